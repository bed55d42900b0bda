//! Feeds arbitrary bytes to the POP3 parser as a conversation (pieces in both directions,
//! gaps, then close; see `tapir::proto::conversation`). It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::{conversation, email::pop3, Transport};

fuzz_target!(|data: &[u8]| {
    let mut p = pop3::new_parser(Transport::Tcp);
    let _ = conversation::play(&mut *p, Transport::Tcp, data);
});
