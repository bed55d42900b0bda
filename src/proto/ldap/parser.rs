//! BER decoding of LDAPMessages (RFC 4511) and RFC 4515 printing of search filters.
//!
//! Elements are read with the shared, allocation-bounded reader of [`crate::proto::ber`].

pub use crate::proto::ber::{header, read_tlv, BerError, Tlv};

/// Deepest filter nesting accepted.
pub const MAX_FILTER_DEPTH: usize = 64;

/// The protocolOp tags of RFC 4511 ([APPLICATION n]; constructed unless noted).
pub mod op {
    /// BindRequest.
    pub const BIND_REQUEST: u8 = 0x60;
    /// BindResponse.
    pub const BIND_RESPONSE: u8 = 0x61;
    /// UnbindRequest (primitive).
    pub const UNBIND_REQUEST: u8 = 0x42;
    /// SearchRequest.
    pub const SEARCH_REQUEST: u8 = 0x63;
    /// SearchResultEntry.
    pub const SEARCH_RESULT_ENTRY: u8 = 0x64;
    /// SearchResultDone.
    pub const SEARCH_RESULT_DONE: u8 = 0x65;
    /// ModifyRequest.
    pub const MODIFY_REQUEST: u8 = 0x66;
    /// ModifyResponse.
    pub const MODIFY_RESPONSE: u8 = 0x67;
    /// AddRequest.
    pub const ADD_REQUEST: u8 = 0x68;
    /// AddResponse.
    pub const ADD_RESPONSE: u8 = 0x69;
    /// DelRequest (primitive).
    pub const DEL_REQUEST: u8 = 0x4a;
    /// DelResponse.
    pub const DEL_RESPONSE: u8 = 0x6b;
    /// ModifyDNRequest.
    pub const MODDN_REQUEST: u8 = 0x6c;
    /// ModifyDNResponse.
    pub const MODDN_RESPONSE: u8 = 0x6d;
    /// CompareRequest.
    pub const COMPARE_REQUEST: u8 = 0x6e;
    /// CompareResponse.
    pub const COMPARE_RESPONSE: u8 = 0x6f;
    /// AbandonRequest (primitive).
    pub const ABANDON_REQUEST: u8 = 0x50;
    /// SearchResultReference.
    pub const SEARCH_RESULT_REFERENCE: u8 = 0x73;
    /// ExtendedRequest.
    pub const EXTENDED_REQUEST: u8 = 0x77;
    /// ExtendedResponse.
    pub const EXTENDED_RESPONSE: u8 = 0x78;
    /// IntermediateResponse.
    pub const INTERMEDIATE_RESPONSE: u8 = 0x79;
}

/// Inside a complete message, a short element is malformed rather than incomplete.
fn inner(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    read_tlv(input).map_err(|e| match e {
        BerError::Incomplete => BerError::Malformed("element overruns its container"),
        m => m,
    })
}

fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), BerError> {
    let (t, rest) = inner(input)?;
    if t.tag != tag {
        return Err(BerError::Malformed(what));
    }
    Ok((t.value, rest))
}

fn int_value(v: &[u8]) -> Result<i64, BerError> {
    if v.is_empty() || v.len() > 8 {
        return Err(BerError::Malformed("integer size"));
    }
    let neg = v.first().is_some_and(|b| b & 0x80 != 0);
    let init: i64 = if neg { -1 } else { 0 };
    Ok(v.iter().fold(init, |a, &b| (a << 8) | i64::from(b)))
}

fn int<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<(i64, &'a [u8]), BerError> {
    let (v, rest) = expect(input, tag, what)?;
    Ok((int_value(v)?, rest))
}

fn octets<'a>(input: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), BerError> {
    expect(input, 0x04, what)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Text of an LDAPString / DN: UTF-8 kept, anything else replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The LDAPResult carried by responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapResult {
    /// resultCode.
    pub code: u32,
    /// matchedDN.
    pub matched_dn: String,
    /// diagnosticMessage.
    pub message: String,
}

/// How a BindRequest authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// simple [0]: the password is never kept.
    Simple,
    /// sasl [3] with its mechanism.
    Sasl(String),
    /// Microsoft's sicily NTLM choices ([9], [10], [11]).
    Sicily,
    /// Another choice tag.
    Other(u8),
}

/// The decoded search request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// baseObject.
    pub base: String,
    /// scope (0 base, 1 one, 2 sub).
    pub scope: u32,
    /// derefAliases.
    pub deref: u32,
    /// sizeLimit.
    pub size_limit: u32,
    /// timeLimit.
    pub time_limit: u32,
    /// typesOnly.
    pub types_only: bool,
    /// The filter as RFC 4515 text.
    pub filter: String,
    /// The requested attributes.
    pub attributes: Vec<String>,
}

/// A protocolOp, reduced to what the records carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// BindRequest.
    BindRequest {
        /// version.
        version: u32,
        /// name.
        name: String,
        /// authentication choice.
        auth: Auth,
    },
    /// BindResponse.
    BindResponse(LdapResult),
    /// UnbindRequest.
    Unbind,
    /// SearchRequest.
    SearchRequest(Box<Search>),
    /// SearchResultEntry with its DN.
    SearchResultEntry(String),
    /// SearchResultDone.
    SearchResultDone(LdapResult),
    /// SearchResultReference with its URIs.
    SearchResultReference(Vec<String>),
    /// Modify/Add/Del/ModDN/Compare request: operation name and DN.
    Request(&'static str, String),
    /// AbandonRequest with the abandoned id.
    Abandon(u32),
    /// ExtendedRequest with its OID.
    Extended(String),
    /// A response other than bind/search: operation name and result.
    Response(&'static str, LdapResult),
    /// IntermediateResponse.
    Intermediate,
}

/// One decoded LDAPMessage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// messageID.
    pub id: u32,
    /// protocolOp.
    pub op: Op,
}

fn result(input: &[u8]) -> Result<(LdapResult, &[u8]), BerError> {
    let (code, rest) = int(input, 0x0a, "resultCode")?;
    let (dn, rest) = octets(rest, "matchedDN")?;
    let (msg, rest) = octets(rest, "diagnosticMessage")?;
    Ok((
        LdapResult {
            code: to_u32(code),
            matched_dn: text(dn),
            message: text(msg),
        },
        rest,
    ))
}

/// Decodes one whole LDAPMessage (the complete TLV).
pub fn parse_message(input: &[u8]) -> Result<Message, BerError> {
    let (seq, _) = read_tlv(input)?;
    if seq.tag != 0x30 {
        return Err(BerError::Malformed("LDAPMessage is not a SEQUENCE"));
    }
    let (id, rest) = int(seq.value, 0x02, "messageID")?;
    let id = u32::try_from(id).map_err(|_| BerError::Malformed("messageID range"))?;
    let (op, _controls) = inner(rest)?;
    let v = op.value;
    let op = match op.tag {
        op::BIND_REQUEST => {
            let (version, r) = int(v, 0x02, "bind version")?;
            let (name, r) = octets(r, "bind name")?;
            let (a, _) = inner(r)?;
            let auth = match a.tag {
                0x80 => Auth::Simple,
                0xa3 => Auth::Sasl(text(octets(a.value, "sasl mechanism")?.0)),
                0x89..=0x8b => Auth::Sicily,
                t => Auth::Other(t),
            };
            Op::BindRequest {
                version: to_u32(version),
                name: text(name),
                auth,
            }
        }
        op::BIND_RESPONSE => Op::BindResponse(result(v)?.0),
        op::UNBIND_REQUEST => Op::Unbind,
        op::SEARCH_REQUEST => Op::SearchRequest(Box::new(search(v)?)),
        op::SEARCH_RESULT_ENTRY => Op::SearchResultEntry(text(octets(v, "objectName")?.0)),
        op::SEARCH_RESULT_DONE => Op::SearchResultDone(result(v)?.0),
        op::SEARCH_RESULT_REFERENCE => {
            let mut uris = Vec::new();
            let mut r = v;
            while !r.is_empty() {
                let (u, rest) = octets(r, "reference URI")?;
                uris.push(text(u));
                r = rest;
            }
            Op::SearchResultReference(uris)
        }
        op::MODIFY_REQUEST => Op::Request("modify", text(octets(v, "modify object")?.0)),
        op::ADD_REQUEST => Op::Request("add", text(octets(v, "add entry")?.0)),
        op::DEL_REQUEST => Op::Request("delete", text(v)),
        op::MODDN_REQUEST => Op::Request("modify_dn", text(octets(v, "modDN entry")?.0)),
        op::COMPARE_REQUEST => Op::Request("compare", text(octets(v, "compare entry")?.0)),
        op::ABANDON_REQUEST => Op::Abandon(to_u32(int_value(v)?)),
        op::EXTENDED_REQUEST => Op::Extended(text(expect(v, 0x80, "requestName")?.0)),
        op::MODIFY_RESPONSE => Op::Response("modify", result(v)?.0),
        op::ADD_RESPONSE => Op::Response("add", result(v)?.0),
        op::DEL_RESPONSE => Op::Response("delete", result(v)?.0),
        op::MODDN_RESPONSE => Op::Response("modify_dn", result(v)?.0),
        op::COMPARE_RESPONSE => Op::Response("compare", result(v)?.0),
        op::EXTENDED_RESPONSE => Op::Response("extended", result(v)?.0),
        op::INTERMEDIATE_RESPONSE => Op::Intermediate,
        _ => return Err(BerError::Malformed("unknown protocolOp")),
    };
    Ok(Message { id, op })
}

fn search(v: &[u8]) -> Result<Search, BerError> {
    let (base, r) = octets(v, "baseObject")?;
    let (scope, r) = int(r, 0x0a, "scope")?;
    let (deref, r) = int(r, 0x0a, "derefAliases")?;
    let (size_limit, r) = int(r, 0x02, "sizeLimit")?;
    let (time_limit, r) = int(r, 0x02, "timeLimit")?;
    let (types_only, r) = int(r, 0x01, "typesOnly")?;
    let (f, r) = inner(r)?;
    let mut filter = String::new();
    write_filter(f, 0, &mut filter)?;
    let mut attributes = Vec::new();
    if !r.is_empty() {
        let (mut list, _) = expect(r, 0x30, "attributes")?;
        while !list.is_empty() {
            let (a, rest) = octets(list, "attribute")?;
            attributes.push(text(a));
            list = rest;
        }
    }
    Ok(Search {
        base: text(base),
        scope: to_u32(scope),
        deref: to_u32(deref),
        size_limit: to_u32(size_limit),
        time_limit: to_u32(time_limit),
        types_only: types_only != 0,
        filter,
        attributes,
    })
}

/// Appends an assertion value RFC 4515-escaped: valid UTF-8 is kept except `*()\`, NUL and
/// control characters; other byte strings are printed with every non-ASCII byte as `\xx`.
pub fn escape_value(b: &[u8], out: &mut String) {
    use std::fmt::Write;
    match std::str::from_utf8(b) {
        Ok(s) => {
            for c in s.chars() {
                if matches!(c, '*' | '(' | ')' | '\\') || u32::from(c) < 0x20 {
                    let _ = write!(out, "\\{:02x}", u32::from(c));
                } else {
                    out.push(c);
                }
            }
        }
        Err(_) => {
            for &c in b {
                if !(0x20..0x7f).contains(&c) || matches!(c, b'*' | b'(' | b')' | b'\\') {
                    let _ = write!(out, "\\{c:02x}");
                } else {
                    out.push(char::from(c));
                }
            }
        }
    }
}

/// What a filter prints instead of the value asserted for a password attribute.
pub const REDACTED: &str = "<redacted>";

/// Attributes whose values are passwords or password hashes (names lower-case, and OIDs):
/// a filter that tests them ("(&(uid=bob)(userPassword=secret))", authentication by search)
/// carries a credential, which is never printed.
const SECRET_ATTRS: &[&str] = &[
    "userpassword",
    "2.5.4.35",
    "authpassword",
    "1.3.6.1.4.1.4203.1.3.4",
    "unicodepwd",
    "1.2.840.113556.1.4.90",
    "dbcspwd",
    "ntpwdhistory",
    "lmpwdhistory",
    "supplementalcredentials",
    "sambantpassword",
    "sambalmpassword",
    "ms-mcs-admpwd",
    "mslaps-password",
    "msds-managedpassword",
];

/// Whether an attribute description (options such as ";binary" ignored) holds passwords.
pub fn is_secret_attr(attr: &[u8]) -> bool {
    let base = attr.split(|&b| b == b';').next().unwrap_or_default();
    let base = base.strip_prefix(b"OID.").unwrap_or(base);
    SECRET_ATTRS
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(base))
}

/// Appends an assertion value, or [`REDACTED`] when the attribute holds passwords.
fn push_value(attr: &[u8], val: &[u8], out: &mut String) {
    if is_secret_attr(attr) {
        out.push_str(REDACTED);
    } else {
        escape_value(val, out);
    }
}

/// Appends an attribute description (printed as text, never escaped).
fn push_attr(b: &[u8], out: &mut String) {
    out.push_str(&String::from_utf8_lossy(b));
}

/// Prints one encoded Filter element as RFC 4515 text.
pub fn write_filter(f: Tlv<'_>, depth: usize, out: &mut String) -> Result<(), BerError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(BerError::Malformed("filter nested too deep"));
    }
    out.push('(');
    match f.tag {
        0xa0 | 0xa1 => {
            out.push(if f.tag == 0xa0 { '&' } else { '|' });
            let mut r = f.value;
            while !r.is_empty() {
                let (item, rest) = inner(r)?;
                write_filter(item, depth + 1, out)?;
                r = rest;
            }
        }
        0xa2 => {
            out.push('!');
            let (item, _) = inner(f.value)?;
            write_filter(item, depth + 1, out)?;
        }
        0xa3 | 0xa5 | 0xa6 | 0xa8 => {
            let (attr, r) = octets(f.value, "attributeDesc")?;
            let (val, _) = octets(r, "assertionValue")?;
            push_attr(attr, out);
            out.push_str(match f.tag {
                0xa3 => "=",
                0xa5 => ">=",
                0xa6 => "<=",
                _ => "~=",
            });
            push_value(attr, val, out);
        }
        0xa4 => {
            let (attr, r) = octets(f.value, "substrings type")?;
            let (mut subs, _) = expect(r, 0x30, "substrings")?;
            push_attr(attr, out);
            out.push('=');
            let (mut initial, mut anys, mut fin): (&[u8], Vec<&[u8]>, &[u8]) =
                (&[], Vec::new(), &[]);
            while !subs.is_empty() {
                let (s, rest) = inner(subs)?;
                match s.tag {
                    0x80 => initial = s.value,
                    0x81 => anys.push(s.value),
                    0x82 => fin = s.value,
                    _ => return Err(BerError::Malformed("substring choice")),
                }
                subs = rest;
            }
            if is_secret_attr(attr) {
                out.push_str(REDACTED);
            } else {
                escape_value(initial, out);
                out.push('*');
                for a in anys {
                    escape_value(a, out);
                    out.push('*');
                }
                escape_value(fin, out);
            }
        }
        0x87 => {
            push_attr(f.value, out);
            out.push_str("=*");
        }
        0xa9 => {
            let (mut rule, mut typ, mut value, mut dn): (&[u8], &[u8], &[u8], bool) =
                (&[], &[], &[], false);
            let mut r = f.value;
            while !r.is_empty() {
                let (e, rest) = inner(r)?;
                match e.tag {
                    0x81 => rule = e.value,
                    0x82 => typ = e.value,
                    0x83 => value = e.value,
                    0x84 => dn = e.value.iter().any(|&b| b != 0),
                    _ => return Err(BerError::Malformed("extensible match element")),
                }
                r = rest;
            }
            push_attr(typ, out);
            if dn {
                out.push_str(":dn");
            }
            if !rule.is_empty() {
                out.push(':');
                push_attr(rule, out);
            }
            out.push_str(":=");
            push_value(typ, value, out);
        }
        _ => return Err(BerError::Malformed("filter choice")),
    }
    out.push(')');
    Ok(())
}

/// Prints an encoded Filter (one whole element) as RFC 4515 text.
pub fn filter_to_string(encoded: &[u8]) -> Result<String, BerError> {
    let (f, _) = inner(encoded)?;
    let mut s = String::new();
    write_filter(f, 0, &mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::hex::decode;

    /// A TLV with a short or long length.
    use crate::proto::ber::encode as tlv;

    fn ava(tag: u8, a: &str, v: &[u8]) -> Vec<u8> {
        let mut b = tlv(0x04, a.as_bytes());
        b.extend(tlv(0x04, v));
        tlv(tag, &b)
    }

    fn f(enc: &[u8]) -> String {
        filter_to_string(enc).unwrap()
    }

    #[test]
    fn password_attributes_are_redacted_in_filters() {
        let mut and = ava(0xa3, "uid", b"bob");
        and.extend(ava(0xa3, "userPassword", b"hunter2"));
        assert_eq!(f(&tlv(0xa0, &and)), "(&(uid=bob)(userPassword=<redacted>))");
        assert_eq!(
            f(&ava(0xa8, "unicodePwd;binary", b"hunter2")),
            "(unicodePwd;binary~=<redacted>)"
        );
        assert_eq!(
            f(&ava(0xa3, "2.5.4.35", b"hunter2")),
            "(2.5.4.35=<redacted>)"
        );
        let mut sub = tlv(0x04, b"userpassword");
        sub.extend(tlv(0x30, &[tlv(0x80, b"hun"), tlv(0x82, b"ter2")].concat()));
        assert_eq!(f(&tlv(0xa4, &sub)), "(userpassword=<redacted>)");
        let ext = [tlv(0x82, b"authPassword"), tlv(0x83, b"hunter2")].concat();
        assert_eq!(f(&tlv(0xa9, &ext)), "(authPassword:=<redacted>)");
        // Presence and other attributes print as they are.
        assert_eq!(f(&tlv(0x87, b"userPassword")), "(userPassword=*)");
        assert_eq!(f(&ava(0xa3, "pwdLastSet", b"0")), "(pwdLastSet=0)");
    }

    // zeek_ldap-escaping_test.pcapng, frame 8: a search with a 3-item AND.
    const ESCAPING_SEARCH: &str = "306a020102636504000a01020a0100020100020100010100a050a30c04046e616d65040454657374a41604046d61696c300e820c406578616d706c652e636f6da128a312040464657074040a6163636f756e74696e67a312040464657074040a6f7065726174696f6e733000";
    // zeek_ldap-search_umlaut.pcap: (name=Üü).
    const UMLAUT_SEARCH: &str = "30370201016332041164633d6578616d706c652c64633d636f6d0a01020a0100020100020100010100a30c04046e616d650404c39cc3bc3000";

    #[test]
    fn search_from_capture() {
        let m = parse_message(&decode(ESCAPING_SEARCH).unwrap()).unwrap();
        assert_eq!(m.id, 2);
        let Op::SearchRequest(s) = m.op else {
            panic!("{m:?}")
        };
        assert_eq!(s.base, "");
        assert_eq!(s.scope, 2);
        assert_eq!(
            s.filter,
            "(&(name=Test)(mail=*@example.com)(|(dept=accounting)(dept=operations)))"
        );
        assert!(s.attributes.is_empty());
        let m = parse_message(&decode(UMLAUT_SEARCH).unwrap()).unwrap();
        let Op::SearchRequest(s) = m.op else {
            panic!("{m:?}")
        };
        assert_eq!(s.base, "dc=example,dc=com");
        assert_eq!(s.filter, "(name=Üü)");
    }

    #[test]
    fn filter_kinds() {
        assert_eq!(f(&ava(0xa3, "cn", b"x")), "(cn=x)");
        assert_eq!(f(&ava(0xa5, "n", b"5")), "(n>=5)");
        assert_eq!(f(&ava(0xa6, "n", b"5")), "(n<=5)");
        assert_eq!(f(&ava(0xa8, "cn", b"jon")), "(cn~=jon)");
        assert_eq!(f(&tlv(0x87, b"cn")), "(cn=*)");
        let mut subs = tlv(0x80, b"ab");
        subs.extend(tlv(0x81, b"cd"));
        subs.extend(tlv(0x82, b"ef"));
        let mut s = tlv(0x04, b"cn");
        s.extend(tlv(0x30, &subs));
        assert_eq!(f(&tlv(0xa4, &s)), "(cn=ab*cd*ef)");
        let mut s = tlv(0x04, b"cn");
        s.extend(tlv(0x30, &tlv(0x81, b"mid")));
        assert_eq!(f(&tlv(0xa4, &s)), "(cn=*mid*)");
        let three = [ava(0xa3, "a", b"1"), ava(0xa3, "b", b"2"), tlv(0x87, b"c")].concat();
        assert_eq!(f(&tlv(0xa0, &three)), "(&(a=1)(b=2)(c=*))");
        assert_eq!(f(&tlv(0xa1, &three)), "(|(a=1)(b=2)(c=*))");
        assert_eq!(f(&tlv(0xa2, &tlv(0x87, b"c"))), "(!(c=*))");
        assert_eq!(f(&tlv(0xa0, &[])), "(&)");
        let mut e = tlv(0x81, b"2.5.13.5");
        e.extend(tlv(0x82, b"cn"));
        e.extend(tlv(0x83, b"Fred"));
        e.extend(tlv(0x84, &[0xff]));
        assert_eq!(f(&tlv(0xa9, &e)), "(cn:dn:2.5.13.5:=Fred)");
        let mut e = tlv(0x81, b"1.2.3");
        e.extend(tlv(0x83, b"x"));
        assert_eq!(f(&tlv(0xa9, &e)), "(:1.2.3:=x)");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            f(&ava(0xa3, "cn", b"a*b(c)d\\e\0")),
            "(cn=a\\2ab\\28c\\29d\\5ce\\00)"
        );
        assert_eq!(f(&ava(0xa3, "cn", "Lučić".as_bytes())), "(cn=Lučić)");
        assert_eq!(
            f(&ava(0xa3, "objectGUID", &[0x04, 0xff, b'a', 0x80])),
            "(objectGUID=\\04\\ffa\\80)"
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        // Absurd length: header says 4 GiB.
        assert_eq!(
            parse_message(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Err(BerError::Incomplete)
        );
        assert!(header(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(header(&[0x30, 0x80]).is_err());
        // Inner element overruns its container.
        assert!(parse_message(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x63, 0x10]).is_err());
        // Filter nested deeper than the limit.
        let mut enc = tlv(0x87, b"a");
        for _ in 0..100 {
            enc = tlv(0xa2, &enc);
        }
        assert!(filter_to_string(&enc).is_err());
        for n in 0..ESCAPING_SEARCH.len() / 2 {
            let _ = parse_message(&decode(ESCAPING_SEARCH).unwrap()[..n]);
        }
    }

    #[test]
    fn bind_and_results() {
        // bindRequest v3, simple, password "secret".
        let mut b = tlv(0x02, &[3]);
        b.extend(tlv(0x04, b"cn=admin"));
        b.extend(tlv(0x80, b"secret"));
        let mut m = tlv(0x02, &[1]);
        m.extend(tlv(0x60, &b));
        let m = parse_message(&tlv(0x30, &m)).unwrap();
        assert_eq!(
            m.op,
            Op::BindRequest {
                version: 3,
                name: "cn=admin".into(),
                auth: Auth::Simple
            }
        );
        // searchResDone noSuchObject.
        let msg = decode("300f020102650a0a012004000403626164").unwrap();
        let m = parse_message(&msg).unwrap();
        assert_eq!(
            m.op,
            Op::SearchResultDone(LdapResult {
                code: 32,
                matched_dn: String::new(),
                message: "bad".into()
            })
        );
    }
}
