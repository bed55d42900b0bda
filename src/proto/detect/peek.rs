//! The vocabulary of the probes: a three-way answer ([`P`]: fits, needs more bytes, does not
//! fit) and a few allocation-free looks at the first bytes of a payload. Every protocol's probe
//! (`proto::<p>::probe`) is written with these and its own protocol's reader.

#![deny(clippy::indexing_slicing)]

use crate::proto::ber::BerError;
use crate::proto::Confidence;

/// The outcome of one probe step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P<T> {
    /// It fits.
    Yes(T),
    /// It fits so far; more bytes needed.
    More,
    /// It does not fit.
    No,
}

/// A probe: the first bytes of a direction → does the protocol fit, and how surely.
pub type Probe = fn(&[u8]) -> P<Confidence>;

/// Unwraps a [`P::Yes`], returning `More`/`No` from the enclosing probe.
macro_rules! need {
    ($e:expr) => {
        match $e {
            $crate::proto::detect::peek::P::Yes(v) => v,
            $crate::proto::detect::peek::P::More => return $crate::proto::detect::peek::P::More,
            $crate::proto::detect::peek::P::No => return $crate::proto::detect::peek::P::No,
        }
    };
}
pub(crate) use need;

/// The byte at `i`, or "more needed".
pub fn at(d: &[u8], i: usize) -> P<u8> {
    match d.get(i) {
        Some(&b) => P::Yes(b),
        None => P::More,
    }
}

/// The bytes from `i` on, or "more needed" when `d` is shorter than `i`.
pub fn from(d: &[u8], i: usize) -> P<&[u8]> {
    match d.get(i..) {
        Some(rest) => P::Yes(rest),
        None => P::More,
    }
}

/// The big-endian u16 at `i`, or "more needed".
pub fn be16(d: &[u8], i: usize) -> P<u16> {
    let hi = need!(at(d, i));
    let lo = need!(at(d, i + 1));
    P::Yes(u16::from_be_bytes([hi, lo]))
}

/// Whether `d` starts with `pat` (optionally ignoring ASCII case); `More` when `d` is a prefix
/// of `pat`.
pub fn starts(d: &[u8], pat: &[u8], nocase: bool) -> P<()> {
    let n = d.len().min(pat.len());
    let (Some(head), Some(want)) = (d.get(..n), pat.get(..n)) else {
        return P::No;
    };
    let same = if nocase {
        head.eq_ignore_ascii_case(want)
    } else {
        head == want
    };
    match (same, n == pat.len()) {
        (false, _) => P::No,
        (true, true) => P::Yes(()),
        (true, false) => P::More,
    }
}

/// A result of the shared BER reader as a probe step: incomplete → more, malformed → no.
pub fn from_ber<T>(r: Result<T, BerError>) -> P<T> {
    match r {
        Ok(v) => P::Yes(v),
        Err(BerError::Incomplete) => P::More,
        Err(BerError::Malformed(_)) => P::No,
    }
}

/// The first line of `d` (without CR LF), and whether it is complete.
pub fn first_line(d: &[u8]) -> (&[u8], bool) {
    match d.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = d.get(..i).unwrap_or(d);
            (line.strip_suffix(b"\r").unwrap_or(line), true)
        }
        None => (d, false),
    }
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
pub fn contains_nocase(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}
