//! Placeholder: criterion benchmark of the tls parser.
fn main() {}
