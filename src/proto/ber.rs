//! The one BER/DER reader the binary protocols share (LDAP messages, the Kerberos and LDAP
//! probes, the certificate walk of the TLS parser): single-byte tags, definite lengths of at
//! most four length octets, every length checked against the bytes actually present.

#![deny(clippy::indexing_slicing)]

use thiserror::Error;

/// Why an element could not be read.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum BerError {
    /// More bytes are needed to finish the element.
    #[error("incomplete BER element")]
    Incomplete,
    /// The bytes are not the BER these protocols use.
    #[error("malformed BER: {0}")]
    Malformed(&'static str),
}

/// One BER element: its tag byte and its value.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents octets.
    pub value: &'a [u8],
}

/// Reads the length octets at the start of `input`: (value length, octets used).
pub fn length(input: &[u8]) -> Result<(usize, usize), BerError> {
    let l0 = *input.first().ok_or(BerError::Incomplete)?;
    if l0 < 0x80 {
        return Ok((usize::from(l0), 1));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 {
        return Err(BerError::Malformed("indefinite length"));
    }
    if n > 4 {
        return Err(BerError::Malformed("length of more than 4 octets"));
    }
    let bytes = input.get(1..1 + n).ok_or(BerError::Incomplete)?;
    let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
    Ok((len, 1 + n))
}

/// Reads an element header: (tag, header length, value length).
pub fn header(input: &[u8]) -> Result<(u8, usize, usize), BerError> {
    let tag = *input.first().ok_or(BerError::Incomplete)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::Malformed("multi-byte tag"));
    }
    let (len, n) = length(input.get(1..).unwrap_or_default())?;
    Ok((tag, 1 + n, len))
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

/// One element encoded (tag, definite length in the shortest form, content): the fixtures of
/// the tests and the test kit build their LDAP, Kerberos and certificate bytes with it, so the
/// reader and the writer of test data agree on one definition.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut v = Vec::with_capacity(n + 6);
    v.push(tag);
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let be = (n as u64).to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        let digits = be.get(skip..).unwrap_or_default();
        v.push(0x80 | digits.len() as u8);
        v.extend_from_slice(digits);
    }
    v.extend_from_slice(content);
    v
}
