//! The records of an ended flow: what its application layer still held (stream bytes not yet
//! handed on, the parser's open transactions), then the `flow` record itself: connection block
//! (client as source), state, application protocol (content, else a guess, else the port),
//! direction relative to the home networks, and tunnel.

use std::collections::BTreeMap;

use crate::flow::community_id::community_id;
use crate::flow::key::FlowKey;
use crate::flow::table::{EndReason, Flow};
use crate::flow::tcp::{MemBudget, ReassemblyStats};
use crate::proto::{self, ParseCtx};
use crate::record::{rfc3339_micros, Body, FlowBody, FlowRef, Record, TunnelInfo};
use crate::vocab::{AppProto, Transport};

use super::app::FlowApp;
use super::shared::WorkerShared;

/// The connection block of a flow's records (src = the client).
pub(super) fn flow_ref(key: &FlowKey, f: &Flow<FlowApp>) -> FlowRef {
    let (client, cport, server, sport) = if f.client_is_lo {
        (key.lo, key.lo_port, key.hi, key.hi_port)
    } else {
        (key.hi, key.hi_port, key.lo, key.lo_port)
    };
    let (src, dst) = (client.to_ip(), server.to_ip());
    let community_id = match f.icmp {
        Some((t, c)) => community_id(0, src, t.into(), dst, c.into(), key.proto),
        None => community_id(0, src, cport, dst, sport, key.proto),
    };
    FlowRef {
        flow_id: f.id,
        community_id,
        src_ip: src,
        src_port: cport,
        dest_ip: dst,
        dest_port: sport,
        proto: key.proto,
        vlan: f.vlans.as_slice().to_vec(),
    }
}

/// What ending flows needs of the worker, borrowed for one batch of ended flows.
pub(super) struct FlowEnder<'a> {
    pub shared: &'a WorkerShared,
    /// The worker's reassembly memory and counters (the streams give their bytes back).
    pub mem: &'a mut MemBudget,
    pub rstats: &'a mut ReassemblyStats,
    /// Anomalies the parsers report while they finish.
    pub app_anomalies: &'a mut BTreeMap<&'static str, u64>,
    /// Where the records go.
    pub out: &'a mut Vec<Record>,
}

impl FlowEnder<'_> {
    /// Turns an ended flow into its records: what its parser still had, then the `flow` record.
    pub(super) fn end(&mut self, key: FlowKey, mut f: Flow<FlowApp>, reason: EndReason) {
        let mut emitted = Vec::new();
        let mut anomalies = Vec::new();
        let mut ctx = ParseCtx {
            ts_ns: f.last_ns,
            transport: if key.proto == 6 {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            out: &mut emitted,
            anomalies: &mut anomalies,
        };
        f.app
            .close(&self.shared.reasm, self.mem, self.rstats, &mut ctx);
        let fref = flow_ref(&key, &f);
        self.out.extend(emitted.into_iter().map(|e| Record {
            ts_ns: e.ts_ns,
            flow: Some(fref.clone()),
            body: e.body.into(),
            intel: Vec::new(),
            parent: e.parent,
        }));
        for a in anomalies {
            *self.app_anomalies.entry(a).or_insert(0) += 1;
        }
        let body = self.flow_body(&key, &f, &fref, reason);
        self.out.push(Record {
            ts_ns: f.last_ns,
            flow: Some(fref),
            body: Body::Flow(body),
            intel: Vec::new(),
            parent: None,
        });
    }

    fn flow_body(
        &self,
        key: &FlowKey,
        f: &Flow<FlowApp>,
        fref: &FlowRef,
        reason: EndReason,
    ) -> FlowBody {
        let (src, dst) = (fref.src_ip, fref.dest_ip);
        let (cport, sport) = (fref.src_port, fref.dest_port);
        let is_tcp = key.proto == 6;
        let app_proto = if f.app_proto != AppProto::Unknown {
            f.app_proto
        } else if f.app.insp.payload_seen {
            f.app.insp.guess.unwrap_or_else(|| {
                proto::by_port(
                    if is_tcp {
                        Transport::Tcp
                    } else {
                        Transport::Udp
                    },
                    cport,
                    sport,
                )
            })
        } else {
            AppProto::Unknown
        };
        let state = if is_tcp {
            if f.tcp.is_closed() {
                "closed"
            } else if f.tcp.established {
                "established"
            } else {
                "new"
            }
        } else if f.pkts[0] > 0 && f.pkts[1] > 0 {
            "established"
        } else {
            "new"
        };
        let direction = match (self.shared.is_home(src), self.shared.is_home(dst)) {
            (true, true) => "internal",
            (true, false) => "outbound",
            (false, true) => "inbound",
            (false, false) => "external",
        };
        let tunnel =
            (f.tunnel.depth > 0 || f.tunnel.vxlan_vni.is_some() || f.tunnel.erspan_id.is_some())
                .then_some(TunnelInfo {
                    depth: f.tunnel.depth,
                    vxlan_vni: f.tunnel.vxlan_vni,
                    gre_key: f.tunnel.gre_key,
                    erspan_id: f.tunnel.erspan_id,
                });
        FlowBody {
            start: rfc3339_micros(f.start_ns),
            end: rfc3339_micros(f.last_ns),
            pkts_toserver: f.pkts[0],
            pkts_toclient: f.pkts[1],
            bytes_toserver: f.bytes[0],
            bytes_toclient: f.bytes[1],
            state,
            tcp_state: is_tcp.then(|| f.tcp.state.as_str()),
            conn_state: is_tcp.then(|| f.tcp.conn_state()),
            tcp_flags_ts: is_tcp.then(|| format!("0x{:02x}", f.tcp.flags[0])),
            tcp_flags_tc: is_tcp.then(|| format!("0x{:02x}", f.tcp.flags[1])),
            reason: reason.as_str(),
            app_proto: app_proto.as_str(),
            direction,
            proto_name: crate::record::proto_name(key.proto),
            tunnel,
            icmp_type: f.icmp.map(|(t, _)| t),
            icmp_code: f.icmp.map(|(_, c)| c),
            gap_bytes: f.app.insp.gap_bytes,
        }
    }
}
