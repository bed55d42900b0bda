//! Placeholder: criterion benchmark of the kerberos parser.
fn main() {}
