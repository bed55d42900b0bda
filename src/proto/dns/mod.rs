//! DNS over UDP and TCP (and mDNS): one `dns` record per transaction.
//!
//! - [`parser`]: our own zero-copy parser of one message. It borrows the message bytes
//!   (names are validated handles into them, record data are slices), so a message costs
//!   no copy until a record is built. We do not use `dns-parser` (unmaintained) nor
//!   `simple-dns`: owning the parser lets us keep unknown types, classes, opcodes and rcodes
//!   as numbers, report partial messages (the RRs before a truncated one), and bound name
//!   decompression our way (backward pointers only, a hop limit, labels ≤ 63 and names ≤ 255).
//! - [`state`]: per-flow TCP framing (2-byte length prefix; several messages per segment,
//!   a message split over segments, at most 64 KiB + 2 buffered per direction) and pairing of
//!   queries with responses by id and question; queries left unanswered are reported after
//!   30 s of capture time or at the end of the flow.
//! - [`record`]: the `dns` record body and the text forms of types, codes and record data.
//!   Answers carry the resolved addresses (A/AAAA data), for passive name learning later.

pub mod parser;
pub mod probe;
pub mod record;
pub mod state;

pub use record::{DnsAnswer, DnsBody, DnsEdns};
pub use state::{new_parser, DnsState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the dns parser reports.
    DnsAnomaly {
        BadLabel = "dns.bad_label",
        BadPointer = "dns.bad_pointer",
        BadRdata = "dns.bad_rdata",
        Gap = "dns.gap",
        MalformedRr = "dns.malformed_rr",
        NameTooLong = "dns.name_too_long",
        PointerHops = "dns.pointer_hops",
        ResponseWithoutQuery = "dns.response_without_query",
        ShortMessage = "dns.short_message",
        TooManyPending = "dns.too_many_pending",
        Truncated = "dns.truncated",
        TruncatedRr = "dns.truncated_rr",
    }
}
