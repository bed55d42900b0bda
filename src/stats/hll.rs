//! HyperLogLog distinct counter (Flajolet et al. 2007, with the small-range linear counting
//! correction), precision 12: 4096 registers of 6 bits' worth (one byte each), a standard error
//! of about 1.6 %. Merging two sketches (register-wise maximum) gives exactly the sketch of the
//! union, so per-worker and per-sensor sketches merge as if one process had seen everything.
//!
//! Small sketches are kept sparse (the non-zero registers only, sorted by index) and become
//! dense once that list would be larger than the registers: most domains are seen by a few
//! hosts, and a dense sketch per entry would cost 4 KiB each. Both forms hold the same
//! registers; estimates and merges do not depend on the form.

/// Index bits.
pub const P: u32 = 12;
/// Registers.
pub const M: usize = 1 << P;
/// A sparse sketch becomes dense past this many non-zero registers (4 bytes each in memory).
const SPARSE_MAX: usize = M / 8;

/// A HyperLogLog sketch.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Hll {
    regs: Regs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Regs {
    /// (register index, value), sorted by index, values > 0.
    Sparse(Vec<(u16, u8)>),
    Dense(Box<[u8; M]>),
}

impl Default for Regs {
    fn default() -> Self {
        Regs::Sparse(Vec::new())
    }
}

/// A stable 64-bit hash of bytes (FNV-1a, then the MurmurHash3 finaliser to spread the bits):
/// sketches are stored on disk and merged across runs and sensors, so the hash must not depend
/// on a process seed or a library version.
pub fn hash64(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

impl Hll {
    pub fn new() -> Hll {
        Hll::default()
    }

    /// Adds an item (its bytes).
    pub fn add(&mut self, item: &[u8]) {
        self.add_hash(hash64(item));
    }

    /// Adds an item by its [`hash64`].
    pub fn add_hash(&mut self, h: u64) {
        let idx = (h >> (64 - P)) as u16;
        // Rank of the first 1 bit in the remaining 52 bits (1-based); 53 when all are 0.
        let rest = h << P;
        let rank = (rest.leading_zeros().min(64 - P) + 1) as u8;
        self.set(idx, rank);
    }

    fn set(&mut self, idx: u16, v: u8) {
        match &mut self.regs {
            Regs::Dense(r) => {
                if let Some(x) = r.get_mut(usize::from(idx)) {
                    *x = (*x).max(v);
                }
            }
            Regs::Sparse(s) => {
                match s.binary_search_by_key(&idx, |e| e.0) {
                    Ok(i) => {
                        if let Some(e) = s.get_mut(i) {
                            e.1 = e.1.max(v);
                        }
                    }
                    Err(i) => s.insert(i, (idx, v)),
                }
                if s.len() > SPARSE_MAX {
                    self.densify();
                }
            }
        }
    }

    fn densify(&mut self) {
        if let Regs::Sparse(s) = &self.regs {
            let mut d = Box::new([0u8; M]);
            for &(i, v) in s {
                if let Some(x) = d.get_mut(usize::from(i)) {
                    *x = v;
                }
            }
            self.regs = Regs::Dense(d);
        }
    }

    /// The union: afterwards `self` is the sketch of everything either saw.
    pub fn merge(&mut self, o: &Hll) {
        match &o.regs {
            Regs::Sparse(s) => {
                for &(i, v) in s {
                    self.set(i, v);
                }
            }
            Regs::Dense(d) => {
                self.densify();
                if let Regs::Dense(mine) = &mut self.regs {
                    for (a, b) in mine.iter_mut().zip(d.iter()) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        match &self.regs {
            Regs::Sparse(s) => s.is_empty(),
            Regs::Dense(d) => d.iter().all(|&v| v == 0),
        }
    }

    /// Estimated number of distinct items added.
    pub fn estimate(&self) -> u64 {
        let m = M as f64;
        let (mut sum, mut zeros) = (0.0f64, 0usize);
        match &self.regs {
            Regs::Sparse(s) => {
                zeros = M - s.len();
                sum += zeros as f64;
                for &(_, v) in s {
                    sum += 2f64.powi(-i32::from(v));
                }
            }
            Regs::Dense(d) => {
                for &v in d.iter() {
                    if v == 0 {
                        zeros += 1;
                    }
                    sum += 2f64.powi(-i32::from(v));
                }
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        e.round() as u64
    }

    /// Compact bytes: tag 0 + count + (index, value) pairs, or tag 1 + the 4096 registers.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.regs {
            Regs::Sparse(s) => {
                out.push(0);
                super::codec::put_uvar(out, s.len() as u64);
                for &(i, v) in s {
                    out.extend_from_slice(&i.to_le_bytes());
                    out.push(v);
                }
            }
            Regs::Dense(d) => {
                out.push(1);
                out.extend_from_slice(&d[..]);
            }
        }
    }

    /// Reads what [`Hll::encode`] wrote.
    pub fn decode(r: &mut super::codec::Reader<'_>) -> Option<Hll> {
        match r.byte()? {
            0 => {
                let n = r.uvar()? as usize;
                if n > M {
                    return None;
                }
                let mut s: Vec<(u16, u8)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let b = r.bytes(2)?;
                    let i = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
                    let v = r.byte()?;
                    if usize::from(i) >= M || v == 0 || s.last().is_some_and(|l| l.0 >= i) {
                        return None;
                    }
                    s.push((i, v));
                }
                Some(Hll {
                    regs: Regs::Sparse(s),
                })
            }
            1 => {
                let b = r.bytes(M)?;
                let mut d = Box::new([0u8; M]);
                d.copy_from_slice(b);
                Some(Hll {
                    regs: Regs::Dense(d),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(range: std::ops::Range<u64>) -> Hll {
        let mut h = Hll::new();
        for i in range {
            h.add(format!("host-{i}").as_bytes());
        }
        h
    }

    #[test]
    fn small_counts_are_near_exact_and_duplicates_do_not_count() {
        let mut h = filled(0..20);
        h.add(b"host-3");
        h.add(b"host-3");
        assert_eq!(h.estimate(), 20);
        assert_eq!(Hll::new().estimate(), 0);
        assert!(Hll::new().is_empty());
    }

    #[test]
    fn error_within_bound_on_100k_distinct() {
        let h = filled(0..100_000);
        let e = h.estimate() as f64;
        // Standard error 1.04/sqrt(4096) = 1.6 %; 3 sigma.
        let err = (e - 100_000.0).abs() / 100_000.0;
        assert!(err < 0.05, "estimate {e}, error {err}");
    }

    #[test]
    fn merge_is_union() {
        // Overlapping halves, sparse with dense, in both orders.
        let a = filled(0..60_000);
        let b = filled(40_000..100_000);
        let all = filled(0..100_000);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, all);
        assert_eq!(ba, all);
        let small = filled(5..30);
        let mut big = filled(0..10_000);
        let before = big.clone();
        big.merge(&small);
        // host-5..host-30 are already in: the union is unchanged.
        assert_eq!(big, before);
        let mut s = filled(0..10);
        s.merge(&filled(5..25));
        assert_eq!(s, filled(0..25));
        assert_eq!(s.estimate(), 25);
    }

    #[test]
    fn encoding_round_trips_both_forms() {
        for h in [Hll::new(), filled(0..50), filled(0..50_000)] {
            let mut b = Vec::new();
            h.encode(&mut b);
            let mut r = super::super::codec::Reader::new(&b);
            assert_eq!(Hll::decode(&mut r), Some(h));
            assert!(r.is_done());
        }
        // Garbage does not decode.
        assert_eq!(
            Hll::decode(&mut super::super::codec::Reader::new(&[7])),
            None
        );
        assert_eq!(
            Hll::decode(&mut super::super::codec::Reader::new(&[
                0, 2, 5, 0, 1, 4, 0, 1
            ])),
            None
        );
    }
}
