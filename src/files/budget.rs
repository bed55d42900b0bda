//! The memory held by file inspection (HTTP body decoders, the bytes kept for format detection
//! and the PE summary) under one cap per worker thread (`files.inspect_memcap` divided by the
//! worker count, like the reassembly memcap). Each body registers its heavy state here; when
//! the cap is passed the oldest holders are released first: their state is shrunk at once
//! (decoder dropped, kept bytes freed) whether or not their flow ever sends again, and the
//! holder finds out at its next use (its file is then recorded as truncated).
//!
//! The budget is thread-local, installed by the worker ([`install`]); where none is installed
//! (unit tests, tools) nothing is capped.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

/// State a budget can shrink.
pub trait Releasable: Send {
    /// Bytes held now (an estimate of the heap memory that [`Releasable::release`] frees).
    fn held_bytes(&self) -> usize;
    /// Frees what can be freed; the owner sees [`Held::released`] from then on.
    fn release(&mut self);
}

/// A holder that may be emptied (its value taken out before the holder is dropped).
impl<T: Releasable> Releasable for Option<T> {
    fn held_bytes(&self) -> usize {
        self.as_ref().map_or(0, T::held_bytes)
    }
    fn release(&mut self) {
        if let Some(v) = self.as_mut() {
            v.release();
        }
    }
}

/// Counters of one worker's budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InspectStats {
    /// Holders released to stay under the cap.
    pub released: u64,
    /// Bytes held now.
    pub used: u64,
    /// Most bytes held at once.
    pub peak: u64,
}

struct Slot<T> {
    value: T,
    released: bool,
}

trait Handle {
    fn release(&self);
}

impl<T: Releasable> Handle for Mutex<Slot<T>> {
    fn release(&self) {
        if let Ok(mut s) = self.lock() {
            s.released = true;
            s.value.release();
        }
    }
}

struct Budget {
    cap: usize,
    used: usize,
    next: u64,
    /// Holders by age (registration order): bytes charged and the way to release them.
    holders: BTreeMap<u64, (usize, Weak<dyn Handle>)>,
    stats: InspectStats,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Caps the inspection memory of this thread at `cap` bytes (a worker calls it at start).
pub fn install(cap: usize) {
    BUDGET.with(|b| {
        *b.borrow_mut() = Some(Budget {
            cap,
            used: 0,
            next: 0,
            holders: BTreeMap::new(),
            stats: InspectStats::default(),
        });
    });
}

/// This thread's counters (zero without a budget).
pub fn stats() -> InspectStats {
    BUDGET.with(|b| {
        b.borrow()
            .as_ref()
            .map(|b| InspectStats {
                used: b.used as u64,
                ..b.stats
            })
            .unwrap_or_default()
    })
}

/// Heavy state registered with this thread's budget (or uncapped without one).
pub struct Held<T: Releasable + 'static> {
    slot: Arc<Mutex<Slot<T>>>,
    /// Age in the budget; None when no budget is installed.
    id: Option<u64>,
}

impl<T: Releasable + 'static> std::fmt::Debug for Held<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("id", &self.id).finish()
    }
}

impl<T: Releasable + 'static> Held<T> {
    pub fn new(value: T) -> Held<T> {
        let slot = Arc::new(Mutex::new(Slot {
            value,
            released: false,
        }));
        let weak: Weak<dyn Handle> = {
            let h: Arc<dyn Handle> = slot.clone();
            Arc::downgrade(&h)
        };
        let id = BUDGET.with(|b| {
            b.borrow_mut().as_mut().map(|b| {
                let id = b.next;
                b.next += 1;
                b.holders.insert(id, (0, weak));
                id
            })
        });
        Held { slot, id }
    }

    /// Runs `f` on the state, then charges what it holds afterwards (releasing the oldest
    /// holders, this one included, while the cap is passed).
    pub fn with<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        let (r, bytes) = {
            let mut s = match self.slot.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            let r = f(&mut s.value);
            (r, if s.released { 0 } else { s.value.held_bytes() })
        };
        if let Some(id) = self.id {
            charge(id, bytes);
        }
        r
    }
}

impl<T: Releasable + 'static> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            unregister(id);
        }
    }
}

fn unregister(id: u64) {
    let _ = BUDGET.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            if let Some(b) = b.as_mut() {
                if let Some((n, _)) = b.holders.remove(&id) {
                    b.used = b.used.saturating_sub(n);
                }
            }
        }
    });
}

fn charge(id: u64, bytes: usize) {
    let victims = BUDGET.with(|b| {
        let mut victims = Vec::new();
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else {
            return victims;
        };
        if let Some((n, _)) = b.holders.get_mut(&id) {
            b.used = b.used.saturating_sub(*n).saturating_add(bytes);
            *n = bytes;
        }
        while b.used > b.cap {
            let Some((_, (n, h))) = b.holders.pop_first() else {
                break;
            };
            b.used = b.used.saturating_sub(n);
            b.stats.released += 1;
            victims.push(h);
        }
        b.stats.peak = b.stats.peak.max(b.used as u64);
        victims
    });
    // Released outside the budget's borrow (a holder's lock may be taken here).
    for h in victims {
        if let Some(h) = h.upgrade() {
            h.release();
        }
    }
}
