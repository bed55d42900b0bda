//! Cross-flow enrichment of a worker's records just before they leave it, from the
//! sensor-wide DNS cache: DNS answers teach the cache, Kerberos records get the KDC's name and
//! HTTP records the addresses their host resolved to.

use std::net::IpAddr;

use crate::enrich::DnsCache;
use crate::record::{Body, Record};

/// Cross-flow enrichment of one record: DNS answers teach the cache, HTTP records get the
/// addresses their host resolved to.
pub(super) fn enrich_record(cache: &DnsCache, r: &mut Record) {
    match &mut r.body {
        Body::Dns(d) => {
            for a in &d.answers {
                match a.rtype.as_str() {
                    "A" | "AAAA" => {
                        if let (Some(q), Ok(ip)) = (d.query.as_deref(), a.data.parse::<IpAddr>()) {
                            cache.insert(q, ip);
                        }
                    }
                    "PTR" => {
                        if let Some(ip) = crate::enrich::passive::ptr_ip(&a.name) {
                            cache.name_ip(ip, &a.data);
                        }
                    }
                    _ => {}
                }
            }
        }
        Body::Kerberos(k) => {
            if let Some(f) = &r.flow {
                k.kdc_name = cache.name_of(f.dest_ip);
            }
        }
        Body::Http(h) => {
            if let Some(host) = h.host.as_deref() {
                h.target_ips = cache.lookup(host).iter().map(|ip| ip.to_string()).collect();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::{DnsAnswer, DnsBody};
    use crate::proto::http::HttpBody;
    use crate::proto::kerberos::KerberosBody;
    use crate::record::FlowRef;

    fn rec(dest: &str, body: Body) -> Record {
        Record {
            ts_ns: 1,
            flow: Some(FlowRef {
                flow_id: 1,
                community_id: "1:x".into(),
                src_ip: "10.0.0.5".parse().unwrap(),
                src_port: 50000,
                dest_ip: dest.parse().unwrap(),
                dest_port: 88,
                proto: 17,
                vlan: vec![],
            }),
            body,
            intel: Vec::new(),
            parent: None,
        }
    }

    #[test]
    fn dns_answers_name_kdcs_and_resolve_http_hosts() {
        let cache = crate::enrich::DnsCache::new(100);
        let answer = |name: &str, rtype: &str, data: &str| DnsAnswer {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 60,
            data: data.into(),
        };
        let mut dns = rec(
            "10.0.0.1",
            Body::Dns(DnsBody {
                query: Some("dc1.corp.example".into()),
                answers: vec![answer("dc1.corp.example", "A", "192.0.2.53")],
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut dns);
        let mut ptr = rec(
            "10.0.0.1",
            Body::Dns(DnsBody {
                answers: vec![answer(
                    "54.2.0.192.in-addr.arpa",
                    "PTR",
                    "dc2.corp.example.",
                )],
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut ptr);
        for (ip, name) in [
            ("192.0.2.53", "dc1.corp.example"),
            ("192.0.2.54", "dc2.corp.example"),
        ] {
            let mut k = rec(ip, Body::Kerberos(KerberosBody::default()));
            enrich_record(&cache, &mut k);
            let Body::Kerberos(k) = k.body else { panic!() };
            assert_eq!(k.kdc_name.as_deref(), Some(name));
        }
        let mut h = rec(
            "192.0.2.53",
            Body::Http(HttpBody {
                host: Some("DC1.corp.example:8080".into()),
                ..Default::default()
            }),
        );
        enrich_record(&cache, &mut h);
        let Body::Http(h) = h.body else { panic!() };
        assert_eq!(h.target_ips, vec!["192.0.2.53".to_string()]);
    }
}
