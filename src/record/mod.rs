//! Records: what the sensor reports, as owned values. Workers build them; the output stage
//! serialises them once, as one JSON object per line, with the field names fixed by the record
//! contract (`docs/records.md`).

use std::net::IpAddr;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

pub mod detection;
pub mod intel;
pub mod sensor_status;
mod time;
pub use time::rfc3339_micros;

/// The connection a record belongs to (src = the side that opened the flow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRef {
    pub flow_id: u64,
    pub community_id: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// VLAN ids, outer first.
    pub vlan: Vec<u16>,
}

/// One record: common header plus a typed body.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Event time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub flow: Option<FlowRef>,
    pub body: Body,
    /// Threat-intel hits (`intel[]`, written only when not empty).
    pub intel: Vec<intel::IntelHit>,
    /// The session the record's stream was handed over from (StartTLS, a CONNECT tunnel):
    /// `parent` {`app_proto`, `tx`, `depth`}, absent when none (`docs/evasion.md`).
    pub parent: Option<crate::proto::Link>,
}

/// The typed part of a record; the variant names the `event_type`.
// Bodies are built once and moved in batches; boxing each would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Flow(FlowBody),
    Dns(crate::proto::dns::DnsBody),
    Http(crate::proto::http::HttpBody),
    File(crate::files::FileBody),
    Email(crate::proto::email::EmailBody),
    Kerberos(crate::proto::kerberos::KerberosBody),
    Ldap(crate::proto::ldap::LdapBody),
    Tls(crate::proto::tls::TlsBody),
    SensorStatus(Box<sensor_status::StatusBody>),
    Detection(Box<detection::DetectionBody>),
}

impl From<crate::proto::AppBody> for Body {
    fn from(b: crate::proto::AppBody) -> Self {
        use crate::proto::AppBody as A;
        match b {
            A::Dns(b) => Body::Dns(b),
            A::Http(b) => Body::Http(b),
            A::File(b) => Body::File(b),
            A::Email(b) => Body::Email(b),
            A::Kerberos(b) => Body::Kerberos(b),
            A::Ldap(b) => Body::Ldap(b),
            A::Tls(b) => Body::Tls(b),
        }
    }
}

impl Body {
    pub fn event_type(&self) -> &'static str {
        match self {
            Body::Flow(_) => "flow",
            Body::Dns(_) => "dns",
            Body::Http(_) => "http",
            Body::File(_) => "file",
            Body::Email(_) => "email",
            Body::Kerberos(_) => "kerberos",
            Body::Ldap(_) => "ldap",
            Body::Tls(_) => "tls",
            Body::SensorStatus(_) => "sensor_status",
            Body::Detection(_) => "detection",
        }
    }
}

/// `flow` record body (contract: `flow.*`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowBody {
    /// RFC 3339 start and end times.
    pub start: String,
    pub end: String,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// "new" (one side only / no handshake), "established", "closed".
    pub state: &'static str,
    /// TCP only: the TCP state machine's last state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_state: Option<&'static str>,
    /// TCP only: Zeek-style connection summary (S0, S1, SF, REJ, RSTO, RSTR, SH, OTH, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_state: Option<&'static str>,
    /// TCP only: flags seen from the client and from the server, as hex bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags_ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags_tc: Option<String>,
    /// Why the record was written: "timeout", "closed", "shutdown", "emergency", "reuse".
    pub reason: &'static str,
    pub app_proto: &'static str,
    /// "inbound", "outbound", "internal", "external" relative to the home network.
    pub direction: &'static str,
    pub proto_name: &'static str,
    /// Tunnels the flow was carried in (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelInfo>,
    /// ICMP type and code of the first packet (ICMP flows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// TCP stream gaps seen (bytes that were never captured), both directions.
    #[serde(skip_serializing_if = "is_zero")]
    pub gap_bytes: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelInfo {
    pub depth: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vxlan_vni: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gre_key: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erspan_id: Option<u16>,
}

/// Name of an IP protocol number as records show it ("TCP", "UDP", ...; the number otherwise).
pub fn proto_name(p: u8) -> &'static str {
    match p {
        1 => "ICMP",
        2 => "IGMP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "IPv6-ICMP",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => "other",
    }
}

/// Serialises a record as the contract lays it out: common fields at the top level, the body
/// under the key named like its `event_type`.
pub struct RecordView<'a> {
    pub record: &'a Record,
    pub sensor_id: &'a str,
    /// The record's `id` (`docs/records.md`), when the output assigns one.
    pub id: Option<RecordId<'a>>,
}

/// A record's `id`: `<run>-<seq>`, the output's run id and the record's 1-based position in
/// the run's output. Written without an allocation.
#[derive(Clone, Copy, Debug)]
pub struct RecordId<'a> {
    pub run: &'a str,
    pub seq: u64,
}

impl std::fmt::Display for RecordId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.run, self.seq)
    }
}

impl Serialize for RecordId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for RecordView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &rfc3339_micros(r.ts_ns))?;
        m.serialize_entry("event_type", r.body.event_type())?;
        m.serialize_entry("sensor_id", self.sensor_id)?;
        if let Some(id) = &self.id {
            m.serialize_entry("id", id)?;
        }
        if let Some(f) = &r.flow {
            m.serialize_entry("flow_id", &f.flow_id)?;
            m.serialize_entry("community_id", &f.community_id)?;
            m.serialize_entry("src_ip", &f.src_ip)?;
            m.serialize_entry("src_port", &f.src_port)?;
            m.serialize_entry("dest_ip", &f.dest_ip)?;
            m.serialize_entry("dest_port", &f.dest_port)?;
            let pn = proto_name(f.proto);
            if pn == "other" {
                m.serialize_entry("proto", &f.proto.to_string())?;
            } else {
                m.serialize_entry("proto", pn)?;
            }
            if !f.vlan.is_empty() {
                m.serialize_entry("vlan", &f.vlan)?;
            }
        }
        if let Some(p) = &r.parent {
            m.serialize_entry("parent", p)?;
        }
        let key = r.body.event_type();
        match &r.body {
            Body::Flow(b) => m.serialize_entry(key, b)?,
            Body::Dns(b) => m.serialize_entry(key, b)?,
            Body::Http(b) => m.serialize_entry(key, b)?,
            Body::File(b) => m.serialize_entry(key, b)?,
            Body::Email(b) => m.serialize_entry(key, b)?,
            Body::Kerberos(b) => m.serialize_entry(key, b)?,
            Body::Ldap(b) => m.serialize_entry(key, b)?,
            Body::Tls(b) => m.serialize_entry(key, b)?,
            Body::SensorStatus(b) => m.serialize_entry(key, b)?,
            Body::Detection(b) => m.serialize_entry(key, b)?,
        }
        if !r.intel.is_empty() {
            m.serialize_entry("intel", &r.intel)?;
        }
        m.end()
    }
}

/// Writes one record as a JSON line (with the trailing newline) into `out`.
pub fn write_json_line(
    out: &mut Vec<u8>,
    record: &Record,
    sensor_id: &str,
) -> serde_json::Result<()> {
    write_json_line_id(out, record, sensor_id, None)
}

/// [`write_json_line`] with the record's `id`.
pub fn write_json_line_id(
    out: &mut Vec<u8>,
    record: &Record,
    sensor_id: &str,
    id: Option<RecordId<'_>>,
) -> serde_json::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &RecordView {
            record,
            sensor_id,
            id,
        },
    )?;
    out.push(b'\n');
    Ok(())
}
