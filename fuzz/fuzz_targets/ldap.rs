//! Fuzz target: arbitrary bytes through the LDAP parser (TCP stream split in two, and one
//! CLDAP datagram) via the AppParser seam, and through the filter printer.
#![no_main]

use tapir::proto::ldap::{new_parser, parser};
use tapir::proto::{Direction, ParseCtx, Transport};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut anomalies = Vec::new();
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut p = new_parser(transport);
        let mut ctx = ParseCtx {
            ts_ns: 0,
            transport,
            out: &mut out,
            anomalies: &mut anomalies,
        };
        let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
        let (a, b) = data.split_at(cut);
        p.on_data(Direction::ToServer, a, &mut ctx);
        p.on_data(Direction::ToServer, b, &mut ctx);
        p.on_data(Direction::ToClient, data, &mut ctx);
        p.on_gap(Direction::ToClient, 1, &mut ctx);
        p.on_data(Direction::ToClient, data, &mut ctx);
        p.on_close(&mut ctx);
    }
    let _ = parser::filter_to_string(data);
    let _ = parser::parse_message(data);
});
