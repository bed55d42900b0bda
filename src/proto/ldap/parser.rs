//! BER decoding of LDAPMessages (RFC 4511) and RFC 4515 printing of search filters.
//!
//! A small, allocation-bounded BER reader: single-byte tags, definite lengths of at most four
//! length octets, every length checked against the bytes actually present.

use thiserror::Error;

/// Why a message could not be decoded.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum BerError {
    /// More bytes are needed to finish the element.
    #[error("incomplete BER element")]
    Incomplete,
    /// The bytes are not the BER an LDAP message uses.
    #[error("malformed BER: {0}")]
    Malformed(&'static str),
}

/// Deepest filter nesting accepted.
pub const MAX_FILTER_DEPTH: usize = 64;

/// One BER element: its tag byte and its value.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents octets.
    pub value: &'a [u8],
}

/// Reads an element header: (tag, header length, value length).
pub fn header(input: &[u8]) -> Result<(u8, usize, usize), BerError> {
    let tag = *input.first().ok_or(BerError::Incomplete)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::Malformed("multi-byte tag"));
    }
    let l0 = *input.get(1).ok_or(BerError::Incomplete)?;
    if l0 < 0x80 {
        return Ok((tag, 2, usize::from(l0)));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 {
        return Err(BerError::Malformed("indefinite length"));
    }
    if n > 4 {
        return Err(BerError::Malformed("length of more than 4 octets"));
    }
    let bytes = input.get(2..2 + n).ok_or(BerError::Incomplete)?;
    let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
    Ok((tag, 2 + n, len))
}

/// Reads one element and returns it with the rest of the input.
pub fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let (tag, hl, len) = header(input)?;
    let end = hl
        .checked_add(len)
        .ok_or(BerError::Malformed("length overflow"))?;
    let value = input.get(hl..end).ok_or(BerError::Incomplete)?;
    let rest = input.get(end..).ok_or(BerError::Incomplete)?;
    Ok((Tlv { tag, value }, rest))
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
        0x60 => {
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
        0x61 => Op::BindResponse(result(v)?.0),
        0x42 => Op::Unbind,
        0x63 => Op::SearchRequest(Box::new(search(v)?)),
        0x64 => Op::SearchResultEntry(text(octets(v, "objectName")?.0)),
        0x65 => Op::SearchResultDone(result(v)?.0),
        0x73 => {
            let mut uris = Vec::new();
            let mut r = v;
            while !r.is_empty() {
                let (u, rest) = octets(r, "reference URI")?;
                uris.push(text(u));
                r = rest;
            }
            Op::SearchResultReference(uris)
        }
        0x66 => Op::Request("modify", text(octets(v, "modify object")?.0)),
        0x68 => Op::Request("add", text(octets(v, "add entry")?.0)),
        0x4a => Op::Request("delete", text(v)),
        0x6c => Op::Request("modify_dn", text(octets(v, "modDN entry")?.0)),
        0x6e => Op::Request("compare", text(octets(v, "compare entry")?.0)),
        0x50 => Op::Abandon(to_u32(int_value(v)?)),
        0x77 => Op::Extended(text(expect(v, 0x80, "requestName")?.0)),
        0x67 => Op::Response("modify", result(v)?.0),
        0x69 => Op::Response("add", result(v)?.0),
        0x6b => Op::Response("delete", result(v)?.0),
        0x6d => Op::Response("modify_dn", result(v)?.0),
        0x6f => Op::Response("compare", result(v)?.0),
        0x78 => Op::Response("extended", result(v)?.0),
        0x79 => Op::Intermediate,
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
                if c < 0x20 || c >= 0x7f || matches!(c, b'*' | b'(' | b')' | b'\\') {
                    let _ = write!(out, "\\{c:02x}");
                } else {
                    out.push(char::from(c));
                }
            }
        }
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
            escape_value(val, out);
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
            escape_value(initial, out);
            out.push('*');
            for a in anys {
                escape_value(a, out);
                out.push('*');
            }
            escape_value(fin, out);
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
            escape_value(value, out);
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
