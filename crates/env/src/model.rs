//! Environment models: the transition table of a finite MDP, as Gymnasium's toy-text
//! environments expose it in `env.unwrapped.P`: `P[s][a] = [(prob, next_state, reward,
//! terminated), ...]`. Dynamic programming (policy evaluation, policy and value iteration)
//! reads it; [`Env::model`](crate::Env::model) returns it for the environments that have one.
//!
//! Outcomes are stored flat (one offset per state-action pair), in Gymnasium's order, so
//! that a Bellman backup walks contiguous memory.

use serde_json::{json, Value};

/// One outcome of taking an action in a state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub prob: f64,
    pub next: u32,
    pub reward: f64,
    /// The episode ends with this transition: its next state is not bootstrapped from.
    pub terminated: bool,
}

/// A finite MDP: `n_states` states and `n_actions` actions (indices from 0; an environment
/// whose Discrete action space starts elsewhere maps index `i` to action `start + i`).
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    n_states: usize,
    n_actions: usize,
    /// Outcomes of `(s, a)` are `outcomes[offsets[s * n_actions + a]..offsets[.. + 1]]`.
    offsets: Vec<usize>,
    outcomes: Vec<Outcome>,
    /// Which actions are allowed in each state (`None`: all). Dynamic programming maximises
    /// over allowed actions only; the environment still accepts the others (see its docs).
    allowed: Option<Vec<bool>>,
    /// The start-state distribution (Gymnasium's `initial_state_distrib`).
    pub initial: Vec<f64>,
}

/// Adds outcomes state by state, action by action, in order.
pub struct ModelBuilder {
    model: Model,
}

impl ModelBuilder {
    pub fn new(n_states: usize, n_actions: usize) -> ModelBuilder {
        let mut offsets = Vec::with_capacity(n_states * n_actions + 1);
        offsets.push(0);
        ModelBuilder {
            model: Model {
                n_states,
                n_actions,
                offsets,
                outcomes: Vec::new(),
                allowed: None,
                initial: vec![1.0 / n_states.max(1) as f64; n_states],
            },
        }
    }

    /// Adds an outcome to the current state-action pair.
    pub fn outcome(&mut self, prob: f64, next: usize, reward: f64, terminated: bool) {
        self.model.outcomes.push(Outcome {
            prob,
            next: next as u32,
            reward,
            terminated,
        });
    }

    /// Closes the current state-action pair (the next outcome belongs to the next pair).
    pub fn end_pair(&mut self) {
        self.model.offsets.push(self.model.outcomes.len());
    }

    pub fn allowed(&mut self, allowed: Vec<bool>) {
        self.model.allowed = Some(allowed);
    }

    pub fn initial(&mut self, initial: Vec<f64>) {
        self.model.initial = initial;
    }

    /// The model, once every pair is closed.
    pub fn build(self) -> Result<Model, String> {
        let m = self.model;
        let pairs = m.n_states * m.n_actions;
        if m.offsets.len() != pairs + 1 {
            return Err(format!(
                "model has {} state-action pairs, expected {pairs}",
                m.offsets.len() - 1
            ));
        }
        if m.initial.len() != m.n_states {
            return Err("initial distribution has the wrong length".into());
        }
        for i in 0..pairs {
            let outcomes = &m.outcomes[m.offsets[i]..m.offsets[i + 1]];
            let total: f64 = outcomes.iter().map(|o| o.prob).sum();
            if outcomes.is_empty() || (total - 1.0).abs() > 1e-9 {
                return Err(format!(
                    "outcomes of state {} action {} sum to {total}, not 1",
                    i / m.n_actions,
                    i % m.n_actions
                ));
            }
            if let Some(o) = outcomes.iter().find(|o| o.next as usize >= m.n_states) {
                return Err(format!("next state {} out of range", o.next));
            }
        }
        Ok(m)
    }
}

impl Model {
    /// No states, no actions.
    pub fn empty() -> Model {
        Model {
            n_states: 0,
            n_actions: 0,
            offsets: vec![0],
            outcomes: Vec::new(),
            allowed: None,
            initial: Vec::new(),
        }
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// Gymnasium's `P[s][a]`.
    #[inline]
    pub fn outcomes(&self, s: usize, a: usize) -> &[Outcome] {
        let i = s * self.n_actions + a;
        &self.outcomes[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Whether action `a` is allowed in state `s`.
    #[inline]
    pub fn allowed(&self, s: usize, a: usize) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|m| m[s * self.n_actions + a])
    }

    /// The allowed actions of state `s` (`None`: all are).
    pub fn allowed_row(&self, s: usize) -> Option<&[bool]> {
        let n = self.n_actions;
        self.allowed.as_ref().map(|m| &m[s * n..(s + 1) * n])
    }

    /// Outcomes in the whole table.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// `P` as Gymnasium prints it: a list per state of a list per action of
    /// `[prob, next, reward, terminated]`.
    pub fn to_json(&self) -> Value {
        let states: Vec<Value> = (0..self.n_states)
            .map(|s| {
                let actions: Vec<Value> = (0..self.n_actions)
                    .map(|a| {
                        let o: Vec<Value> = self
                            .outcomes(s, a)
                            .iter()
                            .map(|o| json!([o.prob, o.next, o.reward, o.terminated]))
                            .collect();
                        Value::Array(o)
                    })
                    .collect();
                Value::Array(actions)
            })
            .collect();
        Value::Array(states)
    }

    /// FNV-1a (64 bit) of the lines `s a bits(prob) next bits(reward) terminated`, in order,
    /// floats as their IEEE-754 bits: a fingerprint that equals Gymnasium's only for the same
    /// table, bit for bit (the test data computes it from `env.unwrapped.P`).
    pub fn fingerprint(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for s in 0..self.n_states {
            for a in 0..self.n_actions {
                for o in self.outcomes(s, a) {
                    let line = format!(
                        "{s} {a} {} {} {} {}\n",
                        o.prob.to_bits(),
                        o.next,
                        o.reward.to_bits(),
                        o.terminated as u8
                    );
                    for b in line.bytes() {
                        hash ^= b as u64;
                        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
                    }
                }
            }
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_refuses_probabilities_that_do_not_sum_to_one() {
        let mut b = ModelBuilder::new(1, 1);
        b.outcome(0.5, 0, 0.0, false);
        b.end_pair();
        assert!(b.build().unwrap_err().contains("sum to 0.5"));
        let mut b = ModelBuilder::new(1, 1);
        b.outcome(1.0, 0, 1.0, true);
        b.end_pair();
        let m = b.build().unwrap();
        assert_eq!(m.outcomes(0, 0)[0].reward, 1.0);
        assert!(m.allowed(0, 0));
    }
}
