//! Placeholder: criterion benchmark of the ldap parser.
fn main() {}
