//! Application protocols: detection (which protocol a flow speaks) and, later, the parsers.

mod detect_stub;


