//! Placeholder: replaced by the real defragmenter.
