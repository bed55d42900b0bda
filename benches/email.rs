//! Placeholder: criterion benchmark of the email parsers.
fn main() {}
