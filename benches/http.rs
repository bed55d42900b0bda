//! Placeholder: criterion benchmark of the http parser.
fn main() {}
