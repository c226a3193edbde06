//! Choosing actions from action values: epsilon-greedy (with decay), Boltzmann (softmax with
//! a temperature), UCB, and a count-based bonus on top of any of them (Sutton & Barto 2.2-2.7;
//! optimistic initial values are `q_init`). Greedy choices break exact ties at random, as
//! the book's testbed does; the gradient bandit lives with the bandit agent.

use crate::config::{ExplorationKind, TabularConfig};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub struct Explorer {
    pub kind: ExplorationKind,
    /// The current epsilon (decayed after each episode).
    pub epsilon: f64,
    epsilon_decay: f64,
    epsilon_min: f64,
    temperature: f64,
    ucb_c: f64,
    count_bonus: f64,
    /// Scratch: the values actions are chosen by.
    scores: Vec<f64>,
}

/// An index of a maximum of `values`, exact ties broken uniformly at random: one draw when
/// there are ties, none without (the all-equal tables of a method's first episodes tie on
/// every step, so a draw per tied action was a sixth of a Q-learning step). NaNs never win;
/// all NaN gives 0.
#[inline(always)]
pub fn argmax_random_tie(values: &[f64], rng: &mut ChaCha8Rng) -> usize {
    if values.len() > 64 {
        return argmax_random_tie_long(values, rng);
    }
    // Without a branch per action (which way a comparison goes is a coin toss to the
    // processor): the maximum, then the ties to it as bits, lowest action first.
    let top = max_value(values);
    let (ties, count) = values
        .iter()
        .enumerate()
        .fold((0u64, 0usize), |(bits, count), (i, &v)| {
            (
                bits | (((v == top) as u64) << i),
                count + (v == top) as usize,
            )
        });
    if count <= 1 {
        return if ties == 0 {
            0
        } else {
            ties.trailing_zeros() as usize
        };
    }
    let mut left = ties;
    for _ in 0..rng.gen_range(0..count) {
        left &= left - 1;
    }
    left.trailing_zeros() as usize
}

/// The largest of `values`, NaNs skipped (`NEG_INFINITY` if all are): `fold(NEG_INFINITY,
/// f64::max)` in one instruction per value. Only the sign of a zero maximum may differ, and
/// no TD update can tell (`r + gamma * (+-0)` moves a value by the same amount).
#[inline]
pub fn max_value(values: &[f64]) -> f64 {
    values
        .iter()
        .fold(f64::NEG_INFINITY, |top, &v| if v > top { v } else { top })
}

/// [`argmax_random_tie`] of a row too long for its bits.
#[inline(never)]
fn argmax_random_tie_long(values: &[f64], rng: &mut ChaCha8Rng) -> usize {
    // One pass for the first maximum and the number of ties; a second only on ties.
    let (mut top, mut best, mut ties) = (f64::NEG_INFINITY, 0, 0usize);
    for (i, &v) in values.iter().enumerate() {
        if v > top {
            (top, best, ties) = (v, i, 1);
        } else if v == top {
            if ties == 0 {
                best = i;
            }
            ties += 1;
        }
    }
    if ties <= 1 {
        return best;
    }
    let pick = rng.gen_range(0..ties);
    values
        .iter()
        .enumerate()
        .filter(|&(_, &v)| v == top)
        .nth(pick)
        .map_or(best, |(i, _)| i)
}

/// An action index drawn from the probabilities `probs`.
pub fn sample(probs: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut u = rng.gen::<f64>();
    for (a, p) in probs.iter().enumerate() {
        u -= p;
        if u < 0.0 {
            return a;
        }
    }
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

impl Explorer {
    pub fn new(c: &TabularConfig, n_actions: usize) -> Explorer {
        Explorer {
            kind: c.exploration,
            epsilon: c.epsilon,
            epsilon_decay: c.epsilon_decay,
            epsilon_min: c.epsilon_min,
            temperature: c.temperature,
            ucb_c: c.ucb_c,
            count_bonus: c.count_bonus,
            scores: vec![0.0; n_actions],
        }
    }

    /// After each episode.
    pub fn end_episode(&mut self) {
        if self.epsilon_decay < 1.0 {
            self.epsilon = (self.epsilon * self.epsilon_decay).max(self.epsilon_min);
        }
    }

    /// An action for a state whose action values are `q` and pair visit counts `counts`.
    /// Plain epsilon-greedy, the TD methods' step, is inlined into their loops; the rest is
    /// [`Explorer::choose_other`].
    #[inline(always)]
    pub fn choose(&mut self, q: &[f64], counts: &[u64], rng: &mut ChaCha8Rng) -> usize {
        if matches!(
            self.kind,
            ExplorationKind::EpsilonGreedy | ExplorationKind::Gradient
        ) && self.count_bonus <= 0.0
        {
            if self.epsilon > 0.0 && rng.gen::<f64>() < self.epsilon {
                return rng.gen_range(0..q.len());
            }
            return argmax_random_tie(q, rng);
        }
        self.choose_other(q, counts, rng)
    }

    #[inline(never)]
    fn choose_other(&mut self, q: &[f64], counts: &[u64], rng: &mut ChaCha8Rng) -> usize {
        let n = q.len();
        match self.kind {
            ExplorationKind::EpsilonGreedy | ExplorationKind::Gradient => {
                if self.epsilon > 0.0 && rng.gen::<f64>() < self.epsilon {
                    return rng.gen_range(0..n);
                }
                if self.count_bonus > 0.0 {
                    self.bonus_scores(q, counts);
                    return argmax_random_tie(&self.scores, rng);
                }
                argmax_random_tie(q, rng)
            }
            ExplorationKind::Boltzmann => {
                self.bonus_scores(q, counts);
                let scale = 1.0 / self.temperature;
                let top = self
                    .scores
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for s in self.scores.iter_mut() {
                    *s = ((*s - top) * scale).exp();
                    total += *s;
                }
                let mut u = rng.gen::<f64>() * total;
                for (a, s) in self.scores.iter().enumerate() {
                    u -= s;
                    if u < 0.0 {
                        return a;
                    }
                }
                n - 1
            }
            ExplorationKind::Ucb => {
                // Untried actions first (their bound is infinite).
                let untried: Vec<usize> = (0..n).filter(|&a| counts[a] == 0).collect();
                if !untried.is_empty() {
                    return untried[rng.gen_range(0..untried.len())];
                }
                // The book's t is the pull being chosen, counted from 1: the pulls so far + 1.
                let t: u64 = counts.iter().sum::<u64>() + 1;
                let log_t = (t as f64).ln();
                for ((score, &v), &count) in self.scores.iter_mut().zip(q).zip(counts) {
                    *score = v
                        + self.ucb_c * (log_t / count as f64).sqrt()
                        + self.count_bonus / ((count + 1) as f64).sqrt();
                }
                argmax_random_tie(&self.scores, rng)
            }
        }
    }

    fn bonus_scores(&mut self, q: &[f64], counts: &[u64]) {
        for ((score, &v), &count) in self.scores.iter_mut().zip(q).zip(counts) {
            *score = v + self.count_bonus / ((count + 1) as f64).sqrt();
        }
    }

    /// The probabilities with which [`Explorer::choose`] picks each action (Expected Sarsa's
    /// target policy), written into `probs`. UCB counts as greedy on the values.
    pub fn probabilities(&mut self, q: &[f64], counts: &[u64], probs: &mut [f64]) {
        let n = q.len();
        match self.kind {
            ExplorationKind::Boltzmann => {
                self.bonus_scores(q, counts);
                let top = self
                    .scores
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for (p, score) in probs.iter_mut().zip(&self.scores) {
                    *p = ((score - top) / self.temperature).exp();
                    total += *p;
                }
                probs.iter_mut().for_each(|p| *p /= total);
            }
            _ => {
                let eps = if self.kind == ExplorationKind::Ucb {
                    0.0
                } else {
                    self.epsilon
                };
                if self.count_bonus > 0.0 && self.kind != ExplorationKind::Ucb {
                    self.bonus_scores(q, counts);
                } else {
                    self.scores.copy_from_slice(q);
                }
                let top = self
                    .scores
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let ties = self.scores.iter().filter(|&&s| s == top).count() as f64;
                for (p, &score) in probs.iter_mut().zip(&self.scores) {
                    let greedy = if score == top { 1.0 / ties } else { 0.0 };
                    *p = eps / n as f64 + (1.0 - eps) * greedy;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn epsilon_greedy_probabilities_match_its_choices() {
        let c = TabularConfig {
            epsilon: 0.3,
            ..TabularConfig::default()
        };
        let mut e = Explorer::new(&c, 3);
        let q = [1.0, 2.0, 2.0];
        let mut probs = [0.0; 3];
        e.probabilities(&q, &[0; 3], &mut probs);
        assert!((probs[0] - 0.1).abs() < 1e-12 && (probs[1] - 0.45).abs() < 1e-12);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut counts = [0usize; 3];
        for _ in 0..60_000 {
            counts[e.choose(&q, &[0; 3], &mut rng)] += 1;
        }
        for a in 0..3 {
            let f = counts[a] as f64 / 60_000.0;
            assert!((f - probs[a]).abs() < 0.01, "{a}: {f} vs {}", probs[a]);
        }
    }

    #[test]
    fn ucb_tries_every_action_first() {
        let c = TabularConfig {
            exploration: ExplorationKind::Ucb,
            ..TabularConfig::default()
        };
        let mut e = Explorer::new(&c, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(e.choose(&[5.0, 0.0, 0.0], &[1, 0, 1], &mut rng), 1);
        // Equal values: the less tried action has the larger bound.
        assert_eq!(e.choose(&[1.0, 1.0], &[10, 2], &mut rng), 1);
    }

    #[test]
    fn argmax_breaks_ties_as_the_three_pass_reference() {
        fn reference(values: &[f64], rng: &mut ChaCha8Rng) -> usize {
            let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let ties = values.iter().filter(|&&v| v == top).count();
            let pick = if ties > 1 { rng.gen_range(0..ties) } else { 0 };
            values
                .iter()
                .enumerate()
                .filter(|&(_, &v)| v == top)
                .nth(pick)
                .map_or(0, |(i, _)| i)
        }
        let pool = [0.0, 1.0, -1.0, f64::NEG_INFINITY, f64::NAN, 1.0];
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
        let mut draw = ChaCha8Rng::seed_from_u64(1);
        for case in 0..6000 {
            // Rows of 1-6 actions, and some of up to 80 (past the 64 of the bit mask).
            let n = if case % 6 == 0 {
                draw.gen_range(1..81)
            } else {
                draw.gen_range(1..7)
            };
            let row: Vec<f64> = (0..n)
                .map(|_| pool[draw.gen_range(0..pool.len())])
                .collect();
            assert_eq!(
                argmax_random_tie(&row, &mut a),
                reference(&row, &mut b),
                "{row:?}"
            );
        }
        assert_eq!(a.get_word_pos(), b.get_word_pos(), "the same draws");
    }
}
