//! Placeholder: criterion benchmark of the dns parser.
fn main() {}
