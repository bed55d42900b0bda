//! Feeds arbitrary bytes as one message through the MIME stage (MessageBuilder, small limits so
//! the caps are exercised too). It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapir::proto::email::mime::{Envelope, MessageBuilder, MessageLimits};
use tapir::proto::{ParseCtx, Transport};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    let mut ctx = ParseCtx { ts_ns: 0, transport: Transport::Tcp, out: &mut out, anomalies: &mut anomalies };
    let mut b = MessageBuilder::new(MessageLimits { max_message: 64 << 10, max_attachments: 8 });
    for piece in data.chunks(97) {
        b.push(piece);
    }
    let env = Envelope { protocol: "smtp", mail_from: Some("a@b.c".into()), ..Envelope::default() };
    b.finish(&env, &mut ctx);
});
