//! Conditions: the compiled form both native and Sigma rules take.

/// A compiled condition over one record.
#[derive(Clone, Debug)]
pub enum Cond {
    True,
}
