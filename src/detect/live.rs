//! The rule set of a running sensor, replaceable while it runs (SIGHUP): the output stage
//! publishes a new [`RuleSet`] here; each worker notices the new generation at its next batch
//! (one atomic load per batch) and evaluates with it from then on. Every batch carries the
//! generation it was evaluated with, so that the correlation stage reads its hits against the
//! right rules ([`crate::detect::correlate::Correlator::reload`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::RuleSet;

/// The current rule set and its generation (1 for the rules loaded at start).
#[derive(Debug)]
pub struct LiveRules {
    generation: AtomicU64,
    current: RwLock<(u64, Arc<RuleSet>)>,
}

impl LiveRules {
    pub fn new(rules: Arc<RuleSet>) -> LiveRules {
        LiveRules {
            generation: AtomicU64::new(1),
            current: RwLock::new((1, rules)),
        }
    }

    /// The generation now published (cheap: one atomic load).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The rule set now published, with its generation.
    pub fn current(&self) -> (u64, Arc<RuleSet>) {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Publishes `rules`; returns its generation.
    pub fn replace(&self, rules: Arc<RuleSet>) -> u64 {
        let mut c = match self.current.write() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let generation = c.0 + 1;
        *c = (generation, rules);
        self.generation.store(generation, Ordering::Release);
        generation
    }
}

/// A worker's copy of the published rules, refreshed when the generation moves.
#[derive(Debug)]
pub struct RulesView {
    cached: (u64, Arc<RuleSet>),
}

impl RulesView {
    pub fn new(live: &LiveRules) -> RulesView {
        RulesView {
            cached: live.current(),
        }
    }

    /// The rules to evaluate the next batch with, and their generation.
    pub fn get(&mut self, live: &LiveRules) -> (u64, &Arc<RuleSet>) {
        if self.cached.0 != live.generation() {
            self.cached = live.current();
        }
        (self.cached.0, &self.cached.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_follows_the_published_generation() {
        let live = LiveRules::new(Arc::new(RuleSet::default()));
        let mut view = RulesView::new(&live);
        let (g, first) = view.get(&live);
        assert_eq!(g, 1);
        let first = first.clone();
        let (g, again) = view.get(&live);
        assert_eq!(g, 1);
        assert!(Arc::ptr_eq(&first, again));
        let next = Arc::new(RuleSet::default());
        assert_eq!(live.replace(next.clone()), 2);
        let (g, now) = view.get(&live);
        assert_eq!(g, 2);
        assert!(Arc::ptr_eq(&next, now));
    }
}
