//! Gymnasium's toy text environments (FrozenLake, CliffWalking, Taxi, Blackjack), with the
//! same transition tables, random draws and `ansi` text rendering.

mod blackjack;
mod cliff_walking;
mod frozen_lake;
mod taxi;

pub use blackjack::Blackjack;
pub use cliff_walking::CliffWalking;
pub use frozen_lake::{FrozenLake, FrozenLakeConfig};
pub use taxi::{Taxi, TaxiConfig};

use crate::model::{Model, ModelBuilder};
use crate::rng::EnvRng;

/// One outcome of a tabular transition: Gymnasium's `(prob, next_state, reward, terminated)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Transition {
    pub prob: f64,
    pub next: u32,
    pub reward: f64,
    pub terminated: bool,
}

/// At most this many outcomes per (state, action) in the built-in tables.
const MAX_OUTCOMES: usize = 3;

/// Gymnasium's `P[s][a]` lists, stored flat so that stepping never allocates.
#[derive(Clone, Debug)]
pub(crate) struct TransitionTable {
    n_actions: usize,
    outcomes: Vec<[Transition; MAX_OUTCOMES]>,
    counts: Vec<u8>,
    /// The running sums of each pair's probabilities, as `sample` accumulates them (`inf`
    /// past the last outcome): the draw's outcome without a branch per outcome.
    cumulative: Vec<[f64; MAX_OUTCOMES]>,
}

impl TransitionTable {
    pub fn new(n_states: usize, n_actions: usize) -> Self {
        let empty = Transition {
            prob: 0.0,
            next: 0,
            reward: 0.0,
            terminated: false,
        };
        TransitionTable {
            n_actions,
            outcomes: vec![[empty; MAX_OUTCOMES]; n_states * n_actions],
            counts: vec![0; n_states * n_actions],
            cumulative: vec![[f64::INFINITY; MAX_OUTCOMES]; n_states * n_actions],
        }
    }

    pub fn push(&mut self, s: usize, a: usize, t: Transition) {
        let i = s * self.n_actions + a;
        let n = self.counts[i] as usize;
        assert!(
            n < MAX_OUTCOMES,
            "at most {MAX_OUTCOMES} outcomes per transition"
        );
        self.outcomes[i][n] = t;
        let before = if n == 0 {
            0.0
        } else {
            self.cumulative[i][n - 1]
        };
        self.cumulative[i][n] = before + t.prob;
        self.counts[i] += 1;
    }

    #[inline]
    pub fn get(&self, s: usize, a: usize) -> &[Transition] {
        let i = s * self.n_actions + a;
        &self.outcomes[i][..self.counts[i] as usize]
    }

    /// Gymnasium's `step` for tabular envs: `categorical_sample` over `P[s][a]` (one `random()`
    /// draw, also when there is a single outcome).
    #[inline(always)]
    pub fn sample(&self, s: usize, a: usize, rng: &mut EnvRng) -> Transition {
        let i = s * self.n_actions + a;
        let u = rng.random();
        let count = self.counts[i] as usize;
        if count == 1 {
            // Certain (Taxi, a dry grid): the draw is made and cannot change the outcome.
            return self.outcomes[i][0];
        }
        // The first outcome whose running sum exceeds u is the number of sums not exceeding
        // it (the sums only grow); np.argmax over all-False is 0.
        let below: usize = self.cumulative[i].iter().map(|&c| (c <= u) as usize).sum();
        let k = if below < count { below } else { 0 };
        self.outcomes[i][k]
    }
}

impl TransitionTable {
    /// The table as a [`Model`], Gymnasium's `P` entry for entry.
    pub fn to_model(&self, initial: &[f64]) -> std::sync::Arc<Model> {
        let n_states = self.counts.len() / self.n_actions.max(1);
        let mut b = ModelBuilder::new(n_states, self.n_actions);
        for s in 0..n_states {
            for a in 0..self.n_actions {
                for t in self.get(s, a) {
                    b.outcome(t.prob, t.next as usize, t.reward, t.terminated);
                }
                b.end_pair();
            }
        }
        b.initial(initial.to_vec());
        // The tables are built by the constructors above: a failure is a bug, shown as an
        // empty model rather than a panic.
        std::sync::Arc::new(b.build().unwrap_or_else(|_| Model::empty()))
    }
}

/// Gymnasium's `categorical_sample(probs, np_random)`: the first index whose cumulative sum
/// exceeds one `random()` draw (0 if none does). The reference the faster draws are tested
/// against.
#[cfg(test)]
pub(crate) fn categorical_sample(probs: &[f64], rng: &mut EnvRng) -> usize {
    let u = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if acc > u {
            return i;
        }
    }
    0
}

/// The running sums of `probs`, accumulated in order as [`categorical_sample`] does.
pub(crate) fn cumulative(probs: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    probs
        .iter()
        .map(|p| {
            acc += p;
            acc
        })
        .collect()
}

/// [`categorical_sample`] over the running sums [`cumulative`] made (the same draw and
/// result, by bisection: the first sum above the draw; 0 if none is).
pub(crate) fn sample_cumulative(sums: &[f64], rng: &mut EnvRng) -> usize {
    let u = rng.random();
    let i = sums.partition_point(|&c| c <= u);
    if i < sums.len() {
        i
    } else {
        0
    }
}

/// Gymnasium's `utils.colorize`: ANSI colour codes around `s`.
pub(crate) fn colorize(s: &str, color: &str, bold: bool, highlight: bool) -> String {
    let mut num = match color {
        "gray" => 30,
        "red" => 31,
        "green" => 32,
        "yellow" => 33,
        "blue" => 34,
        "magenta" => 35,
        "cyan" => 36,
        "white" => 37,
        _ => 38,
    };
    if highlight {
        num += 10;
    }
    let attrs = if bold {
        format!("{num};1")
    } else {
        num.to_string()
    };
    format!("\x1b[{attrs}m{s}\x1b[0m")
}

/// Initial-state distribution normalised as NumPy does (`d /= d.sum()`).
pub(crate) fn normalised(weights: Vec<f64>) -> Vec<f64> {
    // np.sum uses pairwise summation; for these small integer weights any order is exact.
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free and bisecting draws give Gymnasium's loop's outcome, draw for draw,
    /// including sums that stop short of 1 (the loop's fallback to 0).
    #[test]
    fn fast_draws_equal_the_categorical_loop() {
        let dists: [&[f64]; 4] = [
            &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
            &[0.0, 0.5, 0.5],
            &[0.1, 0.2, 0.3],
            &[0.0, 0.0, 1.0, 0.0, 0.25, 0.0],
        ];
        for probs in dists {
            let sums = cumulative(probs);
            let mut table = TransitionTable::new(1, 1);
            if probs.len() <= MAX_OUTCOMES {
                for (i, &p) in probs.iter().enumerate() {
                    let next = i as u32;
                    table.push(
                        0,
                        0,
                        Transition {
                            prob: p,
                            next,
                            reward: 0.0,
                            terminated: false,
                        },
                    );
                }
            }
            let (mut a, mut b, mut c) = (EnvRng::new(7), EnvRng::new(7), EnvRng::new(7));
            for _ in 0..2000 {
                let expected = categorical_sample(probs, &mut a);
                assert_eq!(sample_cumulative(&sums, &mut b), expected, "{probs:?}");
                if probs.len() <= MAX_OUTCOMES {
                    assert_eq!(
                        table.sample(0, 0, &mut c).next as usize,
                        expected,
                        "{probs:?}"
                    );
                }
            }
        }
    }
}
