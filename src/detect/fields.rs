//! Field access over records by contract path (`dns.query`, `http.user_agent`, `src_ip`,
//! `dns.answers.data`).
//!
//! Rules name the fields they read; at load time those paths become a [`Plan`] (a tree of path
//! segments, each wanted path a numbered slot). For each record, one pass of the record's own
//! serialisation ([`crate::record::RecordView`], the same walk that writes NDJSON) drops the
//! values of the wanted paths into their slots and skips everything else unserialised. A path
//! under a list yields one value per element. Derived fields ([`Derived`]: label entropy, URI
//! extension, ...) and statistics (`stats.*`) are computed from other slots afterwards.
//!
//! This keeps the field names rules use identical to what an analyst sees in the output, with no
//! hand-written accessor per field to fall out of step with the records.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::record::{Record, RecordView};

/// One value of a field in a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// An object or list is there (for `|exists` on `file.pe` and the like).
    Present,
}

impl Val {
    /// Numeric view (numbers, and strings that are numbers).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::UInt(u) => Some(*u as f64),
            Val::Float(f) => Some(*f),
            Val::Str(s) => s.trim().parse().ok(),
            Val::Bool(_) | Val::Present => None,
        }
    }

    /// Text view: strings as they are, numbers and booleans as JSON writes them.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Val::Str(s) => std::borrow::Cow::Borrowed(s),
            Val::Int(i) => i.to_string().into(),
            Val::UInt(u) => u.to_string().into(),
            Val::Float(f) => f.to_string().into(),
            Val::Bool(b) => if *b { "true" } else { "false" }.into(),
            Val::Present => "".into(),
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Fields computed from another field of the record (the base), not written in records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derived {
    /// `dns.query_length`: characters in the query name.
    QueryLength,
    /// `dns.max_label_length`: the longest label of the query name.
    MaxLabelLength,
    /// `dns.label_entropy`: Shannon entropy (bits per character) of the labels left of the
    /// registered domain (the whole name when it has no registered domain).
    LabelEntropy,
    /// `dns.registered_domain`: the public-suffix-aware registered domain of the query.
    RegisteredDomain,
    /// `dns.subdomain_labels`: labels left of the registered domain.
    SubdomainLabels,
    /// `http.uri_path`, `http.uri_query`, `http.uri_extension` (lower-case, no dot).
    UriPath,
    UriQuery,
    UriExtension,
    /// `http.host_is_ip`: the Host header is an IP address (with or without port).
    HostIsIp,
    /// `file.extension`, `email.attachments.extension` (lower-case, no dot), and
    /// `file.name_extensions` (how many dot-separated extensions the name has).
    Extension,
    NameExtensions,
    /// `http.hostname`: the Host header without the port, lower-case.
    HostName,
    /// `dns.z`: the header's Z bit (0x0040 of the flags), 0 or 1.
    DnsZ,
    /// `dns.rejected`: the server answered REFUSED (Zeek's `rejected`).
    Refused,
    /// `kerberos.request_type`: "AS" or "TGS" (Zeek's `request_type`).
    KrbRequestType,
    /// `kerberos.ticket_etype_name`: the issued ticket's encryption type by name (`rc4-hmac`;
    /// Zeek's `cipher`).
    EtypeName,
}

/// Statistics read from the store for a record (when statistics are on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatField {
    DomainFirstSeenAge,
    DomainHosts,
    DomainRequests,
    FileHosts,
    FileFirstSeenAge,
}

/// What a field name in a rule resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldSpec {
    /// A path of the record as written (`dns.query`).
    Path(String),
    /// A derived field and the record path it is computed from.
    Derived(Derived, String),
    /// A statistic and the record path whose value keys the lookup.
    Stat(StatField, String),
    /// Every text value of the record (Sigma `keywords`).
    Keywords,
}

/// Resolves a field name as rules write it.
pub fn resolve(name: &str) -> FieldSpec {
    use Derived as D;
    let derived = |d, base: &str| FieldSpec::Derived(d, base.to_string());
    match name {
        "dns.query_length" => derived(D::QueryLength, "dns.query"),
        "dns.max_label_length" => derived(D::MaxLabelLength, "dns.query"),
        "dns.label_entropy" => derived(D::LabelEntropy, "dns.query"),
        "dns.registered_domain" => derived(D::RegisteredDomain, "dns.query"),
        "dns.subdomain_labels" => derived(D::SubdomainLabels, "dns.query"),
        "http.uri_path" => derived(D::UriPath, "http.uri"),
        "http.uri_query" => derived(D::UriQuery, "http.uri"),
        "http.uri_extension" => derived(D::UriExtension, "http.uri"),
        "http.host_is_ip" => derived(D::HostIsIp, "http.host"),
        "file.extension" => derived(D::Extension, "file.name"),
        "file.name_extensions" => derived(D::NameExtensions, "file.name"),
        "email.attachments.extension" => derived(D::Extension, "email.attachments.name"),
        "email.attachments.name_extensions" => derived(D::NameExtensions, "email.attachments.name"),
        "stats.domain.first_seen_age_s" => {
            FieldSpec::Stat(StatField::DomainFirstSeenAge, String::new())
        }
        "stats.domain.hosts" => FieldSpec::Stat(StatField::DomainHosts, String::new()),
        "stats.domain.requests" => FieldSpec::Stat(StatField::DomainRequests, String::new()),
        "stats.file.hosts" => FieldSpec::Stat(StatField::FileHosts, "file.sha256".into()),
        "stats.file.first_seen_age_s" => {
            FieldSpec::Stat(StatField::FileFirstSeenAge, "file.sha256".into())
        }
        "keywords" => FieldSpec::Keywords,
        "http.hostname" => derived(D::HostName, "http.host"),
        "dns.z" => derived(D::DnsZ, "dns.flags"),
        "dns.rejected" => derived(D::Refused, "dns.rcode_code"),
        "kerberos.request_type" => derived(D::KrbRequestType, "kerberos.msg_type"),
        "kerberos.ticket_etype_name" => derived(D::EtypeName, "kerberos.ticket_etype"),
        _ => FieldSpec::Path(name.to_string()),
    }
}

/// The record paths whose values name a domain, in the order they are tried, for `stats.domain.*`.
pub const DOMAIN_PATHS: [&str; 4] = ["dns.query", "http.host", "tls.sni", "file.url"];

#[derive(Debug, Default)]
struct Node {
    kids: Vec<(String, Node)>,
    slot: Option<usize>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.kids.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }
}

/// The paths a set of rules reads, numbered.
#[derive(Debug, Default)]
pub struct Plan {
    root: Node,
    paths: Vec<String>,
    /// Whether every text value goes to the keyword slot too (a rule uses `keywords`).
    keywords: bool,
    /// Derived fields: (what, base slot, own slot), computed after the pass.
    derived: Vec<(Derived, usize, usize)>,
    /// Statistics: (what, key slots tried in order, own slot).
    stats: Vec<(StatField, Vec<usize>, usize)>,
}

impl Plan {
    /// The slot of a field as rules name it: a record path, a derived field, a statistic or
    /// `keywords`.
    pub fn field(&mut self, name: &str) -> usize {
        match resolve(name) {
            FieldSpec::Path(p) => self.slot(&p),
            FieldSpec::Keywords => self.want_keywords(),
            FieldSpec::Derived(d, base) => {
                let b = self.slot(&base);
                let own = self.extra_slot(name);
                if !self.derived.iter().any(|(_, _, o)| *o == own) {
                    self.derived.push((d, b, own));
                }
                own
            }
            FieldSpec::Stat(st, base) => {
                let keys: Vec<usize> = if base.is_empty() {
                    DOMAIN_PATHS.iter().map(|p| self.slot(p)).collect()
                } else {
                    vec![self.slot(&base)]
                };
                let own = self.extra_slot(name);
                if !self.stats.iter().any(|(_, _, o)| *o == own) {
                    self.stats.push((st, keys, own));
                }
                own
            }
        }
    }

    /// Whether any rule reads statistics through this plan.
    pub fn reads_stats(&self) -> bool {
        !self.stats.is_empty()
    }

    /// The statistics to look up after [`Plan::project`]: (what, key slots, own slot).
    pub fn stat_fields(&self) -> &[(StatField, Vec<usize>, usize)] {
        &self.stats
    }

    /// The slot of `path`, added if new.
    pub fn slot(&mut self, path: &str) -> usize {
        if let Some(i) = self.paths.iter().position(|p| p == path) {
            return i;
        }
        let i = self.paths.len();
        self.paths.push(path.to_string());
        let mut node = &mut self.root;
        for seg in path.split('.') {
            let pos = match node.kids.iter().position(|(k, _)| k == seg) {
                Some(p) => p,
                None => {
                    node.kids.push((seg.to_string(), Node::default()));
                    node.kids.len() - 1
                }
            };
            node = &mut node.kids[pos].1;
        }
        node.slot = Some(i);
        i
    }

    /// The slot for a value that is not a record path (derived, statistics, keywords).
    pub fn extra_slot(&mut self, name: &str) -> usize {
        let key = format!("\u{0}{name}");
        if let Some(i) = self.paths.iter().position(|p| *p == key) {
            return i;
        }
        self.paths.push(key);
        self.paths.len() - 1
    }

    pub fn want_keywords(&mut self) -> usize {
        self.keywords = true;
        self.extra_slot("keywords")
    }

    pub fn slots(&self) -> usize {
        self.paths.len()
    }

    /// Fills `out` (one list per slot) with the values of `record`.
    pub fn project(&self, record: &Record, out: &mut Values) {
        out.reset(self.paths.len());
        let kw = if self.keywords {
            self.paths.iter().position(|p| p == "\u{0}keywords")
        } else {
            None
        };
        let view = RecordView {
            record,
            sensor_id: "",
            id: None,
        };
        let mut p = Proj {
            node: Some(&self.root),
            out,
            kw,
        };
        // Serialising into the projector cannot fail except on a custom error we never raise.
        let _ = view.serialize(&mut p);
        for (d, base, own) in &self.derived {
            let mut vals = Vec::new();
            derive(*d, out.get(*base), &mut vals);
            out.set(*own, vals);
        }
    }
}

/// The values of one record, per slot.
#[derive(Debug, Default)]
pub struct Values {
    slots: Vec<Vec<Val>>,
}

impl Values {
    fn reset(&mut self, n: usize) {
        if self.slots.len() < n {
            self.slots.resize_with(n, Vec::new);
        }
        for s in &mut self.slots {
            s.clear();
        }
    }

    pub fn get(&self, slot: usize) -> &[Val] {
        self.slots.get(slot).map_or(&[], |v| v.as_slice())
    }

    pub fn set(&mut self, slot: usize, vals: Vec<Val>) {
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, Vec::new);
        }
        self.slots[slot] = vals;
    }

    fn push(&mut self, slot: usize, v: Val) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.push(v);
        }
    }
}

/// Never raised: the projector accepts everything.
#[derive(Debug)]
pub struct ProjError;

impl fmt::Display for ProjError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("projection")
    }
}
impl std::error::Error for ProjError {}
impl ser::Error for ProjError {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProjError
    }
}

/// The serializer that walks a record: at `node` in the plan (None: only keywords wanted).
struct Proj<'p, 'v> {
    node: Option<&'p Node>,
    out: &'v mut Values,
    kw: Option<usize>,
}

impl<'p> Proj<'p, '_> {
    fn leaf(&mut self, v: Val) {
        if let Some(kw) = self.kw {
            if let Val::Str(s) = &v {
                self.out.push(kw, Val::Str(s.clone()));
            }
        }
        if let Some(slot) = self.node.and_then(|n| n.slot) {
            self.out.push(slot, v);
        }
    }

    /// Whether anything below here is wanted.
    fn wanted(&self) -> bool {
        self.node.is_some() || self.kw.is_some()
    }

    fn mark_present(&mut self) {
        if let Some(slot) = self.node.and_then(|n| n.slot) {
            self.out.push(slot, Val::Present);
        }
    }

    fn descend<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), ProjError> {
        let next = self.node.and_then(|n| n.child(key));
        if next.is_none() && self.kw.is_none() {
            return Ok(());
        }
        let mut sub = Proj {
            node: next,
            out: &mut *self.out,
            kw: self.kw,
        };
        value.serialize(&mut sub)
    }
}

macro_rules! leaf_fn {
    ($name:ident, $t:ty, $conv:expr) => {
        fn $name(self, v: $t) -> Result<(), ProjError> {
            let conv: fn($t) -> Val = $conv;
            if self.wanted() {
                self.leaf(conv(v));
            }
            Ok(())
        }
    };
}

impl<'a, 'p, 'v> ser::Serializer for &'a mut Proj<'p, 'v> {
    type Ok = ();
    type Error = ProjError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), ProjError>;
    type SerializeMap = MapProj<'a, 'p, 'v>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), ProjError>;

    leaf_fn!(serialize_bool, bool, Val::Bool);
    leaf_fn!(serialize_i8, i8, |v| Val::Int(v.into()));
    leaf_fn!(serialize_i16, i16, |v| Val::Int(v.into()));
    leaf_fn!(serialize_i32, i32, |v| Val::Int(v.into()));
    leaf_fn!(serialize_i64, i64, Val::Int);
    leaf_fn!(serialize_u8, u8, |v| Val::UInt(v.into()));
    leaf_fn!(serialize_u16, u16, |v| Val::UInt(v.into()));
    leaf_fn!(serialize_u32, u32, |v| Val::UInt(v.into()));
    leaf_fn!(serialize_u64, u64, Val::UInt);
    leaf_fn!(serialize_f32, f32, |v| Val::Float(v.into()));
    leaf_fn!(serialize_f64, f64, Val::Float);
    leaf_fn!(serialize_char, char, |v| Val::Str(v.to_string()));

    fn serialize_str(self, v: &str) -> Result<(), ProjError> {
        if self.wanted() {
            self.leaf(Val::Str(v.to_string()));
        }
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), ProjError> {
        Ok(())
    }
    fn serialize_none(self) -> Result<(), ProjError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), ProjError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), ProjError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), ProjError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), ProjError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), ProjError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), ProjError> {
        self.descend(variant, v)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, ProjError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, ProjError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, ProjError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ProjError> {
        Err(ProjError)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapProj<'a, 'p, 'v>, ProjError> {
        self.mark_present();
        Ok(MapProj {
            proj: self,
            key: String::new(),
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, ProjError> {
        self.mark_present();
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ProjError> {
        Err(ProjError)
    }
}

/// List elements stay at the list's node: `dns.answers.data` is each answer's `data`. A list
/// itself is not a value; its elements are (objects among them mark the path present).
impl ser::SerializeSeq for &mut Proj<'_, '_> {
    type Ok = ();
    type Error = ProjError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ProjError> {
        let mut sub = Proj {
            node: self.node,
            out: &mut *self.out,
            kw: self.kw,
        };
        v.serialize(&mut sub)
    }
    fn end(self) -> Result<(), ProjError> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Proj<'_, '_> {
    type Ok = ();
    type Error = ProjError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ProjError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), ProjError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Proj<'_, '_> {
    type Ok = ();
    type Error = ProjError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ProjError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), ProjError> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Proj<'_, '_> {
    type Ok = ();
    type Error = ProjError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ProjError> {
        self.descend(key, v)
    }
    fn end(self) -> Result<(), ProjError> {
        Ok(())
    }
}

pub struct MapProj<'a, 'p, 'v> {
    proj: &'a mut Proj<'p, 'v>,
    key: String,
}

impl ser::SerializeMap for MapProj<'_, '_, '_> {
    type Ok = ();
    type Error = ProjError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ProjError> {
        self.key.clear();
        k.serialize(KeyText(&mut self.key))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ProjError> {
        let key = std::mem::take(&mut self.key);
        let r = self.proj.descend(&key, v);
        self.key = key;
        r
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        k: &K,
        v: &V,
    ) -> Result<(), ProjError> {
        self.serialize_key(k)?;
        self.serialize_value(v)
    }
    fn end(self) -> Result<(), ProjError> {
        Ok(())
    }
}

/// Writes a map key as text.
struct KeyText<'a>(&'a mut String);

macro_rules! key_num {
    ($name:ident, $t:ty) => {
        fn $name(self, v: $t) -> Result<(), ProjError> {
            self.0.push_str(&v.to_string());
            Ok(())
        }
    };
}

impl ser::Serializer for KeyText<'_> {
    type Ok = ();
    type Error = ProjError;
    type SerializeSeq = Impossible<(), ProjError>;
    type SerializeTuple = Impossible<(), ProjError>;
    type SerializeTupleStruct = Impossible<(), ProjError>;
    type SerializeTupleVariant = Impossible<(), ProjError>;
    type SerializeMap = Impossible<(), ProjError>;
    type SerializeStruct = Impossible<(), ProjError>;
    type SerializeStructVariant = Impossible<(), ProjError>;

    fn serialize_str(self, v: &str) -> Result<(), ProjError> {
        self.0.push_str(v);
        Ok(())
    }
    key_num!(serialize_bool, bool);
    key_num!(serialize_i8, i8);
    key_num!(serialize_i16, i16);
    key_num!(serialize_i32, i32);
    key_num!(serialize_i64, i64);
    key_num!(serialize_u8, u8);
    key_num!(serialize_u16, u16);
    key_num!(serialize_u32, u32);
    key_num!(serialize_u64, u64);
    key_num!(serialize_f32, f32);
    key_num!(serialize_f64, f64);
    key_num!(serialize_char, char);
    fn serialize_bytes(self, _: &[u8]) -> Result<(), ProjError> {
        Err(ProjError)
    }
    fn serialize_none(self) -> Result<(), ProjError> {
        Err(ProjError)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), ProjError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), ProjError> {
        Err(ProjError)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), ProjError> {
        Err(ProjError)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), ProjError> {
        self.0.push_str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), ProjError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), ProjError> {
        Err(ProjError)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, ProjError> {
        Err(ProjError)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, ProjError> {
        Err(ProjError)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, ProjError> {
        Err(ProjError)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ProjError> {
        Err(ProjError)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, ProjError> {
        Err(ProjError)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, ProjError> {
        Err(ProjError)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ProjError> {
        Err(ProjError)
    }
}

/// Computes a derived field from its base values.
pub fn derive(d: Derived, base: &[Val], out: &mut Vec<Val>) {
    if d == Derived::EtypeName {
        for v in base {
            if let Some(n) = v.as_f64() {
                out.push(Val::Str(crate::proto::kerberos::record::etype_name(
                    n as i32,
                )));
            }
        }
        return;
    }
    if d == Derived::Refused {
        if let Some(code) = base.first().and_then(Val::as_f64) {
            out.push(Val::Bool(code == 5.0));
        }
        return;
    }
    for v in base {
        let Val::Str(s) = v else { continue };
        match d {
            Derived::QueryLength => out.push(Val::UInt(s.trim_end_matches('.').len() as u64)),
            Derived::MaxLabelLength => out.push(Val::UInt(
                s.split('.').map(str::len).max().unwrap_or(0) as u64,
            )),
            Derived::LabelEntropy => {
                let (sub, _) = split_registered(s);
                let text: String = sub.chars().filter(|c| *c != '.').collect();
                out.push(Val::Float(entropy(&text)));
            }
            Derived::RegisteredDomain => {
                if let Some(reg) = registered(s) {
                    out.push(Val::Str(reg));
                }
            }
            Derived::SubdomainLabels => {
                let (sub, _) = split_registered(s);
                let n = if sub.is_empty() {
                    0
                } else {
                    sub.split('.').count()
                };
                out.push(Val::UInt(n as u64));
            }
            Derived::UriPath => out.push(Val::Str(uri_path(s).to_string())),
            Derived::UriQuery => {
                if let Some((_, q)) = s.split_once('?') {
                    out.push(Val::Str(q.to_string()));
                }
            }
            Derived::UriExtension => {
                if let Some(e) = extension(last_segment(uri_path(s))) {
                    out.push(Val::Str(e));
                }
            }
            Derived::HostIsIp => out.push(Val::Bool(host_is_ip(s))),
            Derived::Extension => {
                if let Some(e) = extension(s) {
                    out.push(Val::Str(e));
                }
            }
            Derived::HostName => out.push(Val::Str(hostname(s))),
            Derived::DnsZ => {
                let flags = u16::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0);
                out.push(Val::UInt(u64::from(flags & 0x0040 != 0)));
            }
            Derived::Refused | Derived::EtypeName => {}
            Derived::KrbRequestType => {
                if let Some(t) = s.strip_suffix("_REQ").or_else(|| s.strip_suffix("_REP")) {
                    if t == "AS" || t == "TGS" {
                        out.push(Val::Str(t.to_string()));
                    }
                }
            }
            Derived::NameExtensions => {
                let n = s.trim_matches('.').split('.').count().saturating_sub(1);
                out.push(Val::UInt(n as u64));
            }
        }
    }
}

/// A Host header's name: without the port (or IPv6 brackets), lower-case, no trailing dot.
pub fn hostname(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match h.rsplit_once(':') {
            Some((a, p)) if !a.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => a,
            _ => h,
        }
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn uri_path(uri: &str) -> &str {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    &uri[..end]
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn extension(name: &str) -> Option<String> {
    let name = name.trim_end_matches(['.', ' ']);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() || ext.len() > 16 {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// Whether a Host header names an IP address (`10.0.0.1`, `10.0.0.1:8080`, `[::1]:80`).
pub fn host_is_ip(host: &str) -> bool {
    let h = host.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
    }
    if h.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    h.rsplit_once(':')
        .is_some_and(|(a, p)| p.parse::<u16>().is_ok() && a.parse::<std::net::Ipv4Addr>().is_ok())
}

/// The registered domain of a name (public suffix list), lower-case, no trailing dot.
pub fn registered(name: &str) -> Option<String> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let d = psl::domain(n.as_bytes())?;
    std::str::from_utf8(d.as_bytes()).ok().map(str::to_string)
}

/// (labels left of the registered domain, registered domain); the whole name when none.
fn split_registered(name: &str) -> (String, Option<String>) {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    match registered(&n) {
        Some(reg) if n.len() > reg.len() => {
            let sub = n[..n.len() - reg.len()].trim_end_matches('.').to_string();
            (sub, Some(reg))
        }
        Some(reg) => (String::new(), Some(reg)),
        None => (n, None),
    }
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::{DnsAnswer, DnsBody};
    use crate::record::{Body, FlowRef};

    fn dns_record() -> Record {
        Record {
            ts_ns: 1_700_000_000_000_000_000,
            flow: Some(FlowRef {
                flow_id: 7,
                community_id: "1:x".into(),
                src_ip: "10.0.0.5".parse().unwrap(),
                src_port: 5353,
                dest_ip: "10.0.0.1".parse().unwrap(),
                dest_port: 53,
                proto: 17,
                vlan: vec![],
            }),
            body: Body::Dns(DnsBody {
                query: Some("a.b.example.co.uk".into()),
                qtype: Some("A".into()),
                qtype_code: Some(1),
                answers: vec![
                    DnsAnswer {
                        name: "a.b.example.co.uk".into(),
                        rtype: "CNAME".into(),
                        ttl: 60,
                        data: "c.example.net".into(),
                    },
                    DnsAnswer {
                        name: "c.example.net".into(),
                        rtype: "A".into(),
                        ttl: 60,
                        data: "192.0.2.9".into(),
                    },
                ],
                ..Default::default()
            }),
            intel: Vec::new(),
            parent: None,
        }
    }

    #[test]
    fn projects_wanted_paths_lists_and_top_level() {
        let mut plan = Plan::default();
        let q = plan.slot("dns.query");
        let data = plan.slot("dns.answers.data");
        let src = plan.slot("src_ip");
        let port = plan.slot("dest_port");
        let et = plan.slot("event_type");
        let missing = plan.slot("dns.nope");
        let answers = plan.slot("dns.answers");
        let mut v = Values::default();
        plan.project(&dns_record(), &mut v);
        assert_eq!(v.get(q), &[Val::Str("a.b.example.co.uk".into())]);
        assert_eq!(
            v.get(data),
            &[
                Val::Str("c.example.net".into()),
                Val::Str("192.0.2.9".into())
            ]
        );
        assert_eq!(v.get(src), &[Val::Str("10.0.0.5".into())]);
        assert_eq!(v.get(port), &[Val::UInt(53)]);
        assert_eq!(v.get(et), &[Val::Str("dns".into())]);
        assert!(v.get(missing).is_empty());
        // A list of objects: each element marks the path present.
        assert_eq!(v.get(answers), &[Val::Present, Val::Present]);
    }

    #[test]
    fn keywords_collect_every_text_value() {
        let mut plan = Plan::default();
        let kw = plan.want_keywords();
        let mut v = Values::default();
        plan.project(&dns_record(), &mut v);
        let texts: Vec<String> = v.get(kw).iter().map(|x| x.to_string()).collect();
        assert!(texts.contains(&"c.example.net".to_string()));
        assert!(texts.contains(&"a.b.example.co.uk".to_string()));
    }

    #[test]
    fn derived_fields() {
        let mut out = Vec::new();
        let q = [Val::Str(
            "aGVsbG8gd29ybGQ.x9f2kq.tunnel.example.co.uk".into(),
        )];
        derive(Derived::RegisteredDomain, &q, &mut out);
        derive(Derived::SubdomainLabels, &q, &mut out);
        derive(Derived::MaxLabelLength, &q, &mut out);
        assert_eq!(
            out,
            vec![
                Val::Str("example.co.uk".into()),
                Val::UInt(3),
                Val::UInt(15)
            ]
        );
        out.clear();
        derive(
            Derived::LabelEntropy,
            &[Val::Str("aaaa.example.com".into())],
            &mut out,
        );
        assert_eq!(out, vec![Val::Float(0.0)]);
        out.clear();
        let uri = [Val::Str("/dl/Update.EXE?x=1#f".into())];
        derive(Derived::UriPath, &uri, &mut out);
        derive(Derived::UriQuery, &uri, &mut out);
        derive(Derived::UriExtension, &uri, &mut out);
        assert_eq!(
            out,
            vec![
                Val::Str("/dl/Update.EXE".into()),
                Val::Str("x=1#f".into()),
                Val::Str("exe".into())
            ]
        );
        assert!(host_is_ip("10.1.2.3:8080"));
        assert!(host_is_ip("[2001:db8::1]:80"));
        assert!(!host_is_ip("example.com:80"));
        out.clear();
        derive(
            Derived::NameExtensions,
            &[Val::Str("invoice.pdf.exe".into())],
            &mut out,
        );
        derive(
            Derived::Extension,
            &[Val::Str("invoice.pdf.EXE".into())],
            &mut out,
        );
        assert_eq!(out, vec![Val::UInt(2), Val::Str("exe".into())]);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
