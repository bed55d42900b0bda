//! Issue 19, class 5: DNS beyond port 53 and odd pairings. Each technique is a generated capture
//! replayed through the `tapir` binary, with the dns records asserted field by field.
//! Decisions: `docs/evasion.md`, `## DNS`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{run_sensor, SensorRun};
use testkit::attacks::{dns_message, dns_name, Rr, A};
use testkit::packets::Cap;

fn a(name: &str, ip: [u8; 4]) -> Rr {
    Rr {
        name: name.to_string(),
        rtype: A,
        ttl: 120,
        rdata: ip.to_vec(),
    }
}

/// A response without a question section (as mDNS answers are): id, flags, one A answer.
fn answer_only(id: u16, flags: u16, name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    for n in [0u16, 1, 0, 0] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    m.extend(dns_name(name));
    m.extend_from_slice(&[0, 1, 0x80, 1]); // A, IN with the cache-flush bit
    m.extend_from_slice(&120u32.to_be_bytes());
    m.extend_from_slice(&[0, 4]);
    m.extend_from_slice(&ip);
    m
}

fn run(cap: &Cap) -> SensorRun {
    let run = run_sensor(&cap.bytes, &["--workers", "1"]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn dns_of<'a>(run: &'a SensorRun, query: Option<&str>) -> Vec<&'a serde_json::Value> {
    run.of("dns")
        .into_iter()
        .filter(|r| r["dns"]["query"].as_str() == query)
        .collect()
}

#[test]
fn mdns_queries_and_announcements_are_dns_records() {
    let mut cap = Cap::new();
    let (host, printer, group) = ([10, 1, 1, 10], [10, 1, 1, 20], [224, 0, 0, 251]);
    let mut q = dns_message(0, "printer.local", A, None);
    q[2] = 0; // mDNS queries: no recursion desired
    cap.udp(host, group, 5353, 5353, &q);
    cap.udp(
        printer,
        group,
        5353,
        5353,
        &answer_only(0, 0x8400, "printer.local", printer),
    );
    let run = run(&cap);
    let dns = run.of("dns");
    assert_eq!(dns.len(), 2, "{:#?}", run.records);
    // The query, never answered on its own flow (the answer went to the group from the printer).
    let q = dns_of(&run, Some("printer.local"));
    assert_eq!(q.len(), 1, "{dns:#?}");
    assert_eq!(q[0]["src_ip"], "10.1.1.10");
    assert_eq!(q[0]["dest_ip"], "224.0.0.251");
    assert_eq!(q[0]["dns"]["id"], 0);
    assert_eq!(q[0]["dns"]["qtype"], "A");
    assert!(q[0]["dns"]["rcode"].is_null());
    // The announcement: its own transaction, with its answer.
    let r = dns_of(&run, None);
    assert_eq!(r.len(), 1, "{dns:#?}");
    assert_eq!(r[0]["src_ip"], "10.1.1.20");
    assert_eq!(r[0]["dns"]["id"], 0);
    assert_eq!(r[0]["dns"]["flags"], "0x8400");
    assert_eq!(r[0]["dns"]["rcode"], "NOERROR");
    assert_eq!(r[0]["dns"]["answers"][0]["name"], "printer.local");
    assert_eq!(r[0]["dns"]["answers"][0]["data"], "10.1.1.20");
    assert_eq!(r[0]["dns"]["transport"], "udp");
    // The content decides (DNS messages); the port name `mdns` is only a guess without them.
    let flows = run.of("flow");
    assert_eq!(flows.len(), 2);
    for f in flows {
        assert_eq!(f["flow"]["app_proto"], "dns", "{f}");
        assert_eq!(f["dest_ip"], "224.0.0.251", "{f}");
    }
}

#[test]
fn llmnr_is_parsed_as_dns() {
    let mut cap = Cap::new();
    let (host, peer) = ([10, 1, 1, 10], [10, 1, 1, 30]);
    cap.udp(
        host,
        peer,
        50123,
        5355,
        &dns_message(0x4242, "wpad", A, None),
    );
    cap.udp(
        peer,
        host,
        5355,
        50123,
        &dns_message(0x4242, "wpad", A, Some((0, &[a("wpad", peer)]))),
    );
    let run = run(&cap);
    let dns = run.of("dns");
    assert_eq!(dns.len(), 1, "{:#?}", run.records);
    let d = &dns[0];
    assert_eq!(d["src_ip"], "10.1.1.10");
    assert_eq!(d["dest_port"], 5355);
    assert_eq!(d["dns"]["query"], "wpad");
    assert_eq!(d["dns"]["id"], 0x4242);
    assert_eq!(d["dns"]["rcode"], "NOERROR");
    assert_eq!(d["dns"]["answers"][0]["data"], "10.1.1.30");
    assert!(d["dns"]["rtt_ms"].is_number());
    let flows = run.of("flow");
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["flow"]["app_proto"], "dns");
}

#[test]
fn id_zero_responses_pair_only_on_their_question() {
    let mut cap = Cap::new();
    let (client, server) = ([10, 1, 1, 10], [10, 9, 9, 9]);
    cap.udp(
        client,
        server,
        40000,
        53,
        &dns_message(0, "a.test", A, None),
    );
    // A forged answer with the right id and port but another question: not the answer.
    cap.udp(
        server,
        client,
        53,
        40000,
        &dns_message(0, "b.test", A, Some((0, &[a("b.test", [6, 6, 6, 6])]))),
    );
    // An id-0 answer with no question at all: not the answer either.
    cap.udp(
        server,
        client,
        53,
        40000,
        &answer_only(0, 0x8180, "a.test", [6, 6, 6, 7]),
    );
    cap.udp(
        server,
        client,
        53,
        40000,
        &dns_message(0, "a.test", A, Some((0, &[a("a.test", [1, 2, 3, 4])]))),
    );
    let run = run(&cap);
    let dns = run.of("dns");
    assert_eq!(dns.len(), 3, "{:#?}", run.records);
    let real = dns_of(&run, Some("a.test"));
    assert_eq!(real.len(), 1, "{dns:#?}");
    assert_eq!(real[0]["dns"]["answers"][0]["data"], "1.2.3.4");
    assert!(real[0]["dns"]["rtt_ms"].is_number());
    let forged = dns_of(&run, Some("b.test"));
    assert_eq!(forged.len(), 1);
    assert_eq!(forged[0]["dns"]["answers"][0]["data"], "6.6.6.6");
    assert!(forged[0]["dns"]["rtt_ms"].is_null());
    let bare = dns_of(&run, None);
    assert_eq!(bare.len(), 1);
    assert_eq!(bare[0]["dns"]["answers"][0]["data"], "6.6.6.7");
    assert_eq!(run.anomaly("dns.response_without_query"), 2);
}

#[test]
fn between_two_port_53_hosts_the_client_is_who_sends_queries() {
    let mut cap = Cap::new();
    // The first datagram seen is a response (to a query sent before the capture started).
    let (resolver, auth) = ([10, 0, 0, 99], [10, 0, 0, 5]);
    cap.udp(
        auth,
        resolver,
        53,
        53,
        &dns_message(7, "x.test", A, Some((0, &[a("x.test", [5, 5, 5, 5])]))),
    );
    cap.udp(resolver, auth, 53, 53, &dns_message(8, "y.test", A, None));
    cap.udp(
        auth,
        resolver,
        53,
        53,
        &dns_message(8, "y.test", A, Some((0, &[a("y.test", [7, 7, 7, 7])]))),
    );
    let run = run(&cap);
    let flows = run.of("flow");
    assert_eq!(flows.len(), 1, "{:#?}", run.records);
    assert_eq!(flows[0]["src_ip"], "10.0.0.99");
    assert_eq!(flows[0]["dest_ip"], "10.0.0.5");
    assert_eq!(flows[0]["flow"]["pkts_toserver"], 1);
    assert_eq!(flows[0]["flow"]["pkts_toclient"], 2);
    let y = dns_of(&run, Some("y.test"));
    assert_eq!(y.len(), 1);
    assert_eq!(y[0]["src_ip"], "10.0.0.99");
    assert_eq!(y[0]["dns"]["answers"][0]["data"], "7.7.7.7");
    let x = dns_of(&run, Some("x.test"));
    assert_eq!(x.len(), 1);
    assert_eq!(x[0]["src_ip"], "10.0.0.99");
}
