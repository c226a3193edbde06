//! Bellman backups over an environment's model (Sutton & Barto chapter 4), in `f64`, and the
//! policies dynamic programming and prediction methods evaluate.

use crate::agent::tabular::greedy;
use crate::config::{invalid, ConfigError};
use crate::error::TrainError;
use engram_env::{Env, Model};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The model of `env`, or an error naming the methods that need none.
pub fn require_model(env: &dyn Env, env_id: &str, algo: &str) -> Result<Arc<Model>, TrainError> {
    env.model().ok_or_else(|| {
        TrainError::Usage(format!(
            "{algo} is dynamic programming: it needs the environment's model (its transition \
             table, Gymnasium's env.unwrapped.P), and {env_id} has none with these options. Learn \
             from experience instead: q-learning, sarsa, mc or dyna-q"
        ))
    })
}

/// The model of `probe` for a dynamic-programming run, checked against its spaces.
pub fn dp_model(env_id: &str, algo: &str, probe: &dyn Env) -> Result<Arc<Model>, TrainError> {
    let agent = crate::tabular::table_agent(env_id, probe)?;
    let model = require_model(probe, env_id, algo)?;
    if model.n_states() != agent.states().n_states() || model.n_actions() != agent.n_actions() {
        return Err(TrainError::Usage(format!(
            "{env_id}'s model has {} states and {} actions, its spaces {} and {}",
            model.n_states(),
            model.n_actions(),
            agent.states().n_states(),
            agent.n_actions()
        )));
    }
    Ok(model)
}

/// The check of `theta` every dynamic-programming method shares.
pub fn check_theta(theta: f64) -> Result<(), ConfigError> {
    if theta.is_finite() && theta > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            "theta",
            format!(
                "must be positive: sweeps stop once no value changes by more than theta \
                 (e.g. --set theta=1e-8), got {theta}"
            ),
        ))
    }
}

/// The environment's first action (Discrete spaces may start above 0).
pub fn action_start(env: &dyn Env) -> i64 {
    match env.action_space() {
        engram_env::Space::Discrete { start, .. } => *start,
        _ => 0,
    }
}

/// `q(s, a) = sum_{s'} p(s' | s, a) [r + gamma v(s')]`, with `v(s') = 0` after a terminating
/// transition.
#[inline]
pub fn q_value(model: &Model, v: &[f64], s: usize, a: usize, gamma: f64) -> f64 {
    model
        .outcomes(s, a)
        .iter()
        .map(|o| {
            let next = if o.terminated {
                0.0
            } else {
                v[o.next as usize]
            };
            o.prob * (o.reward + gamma * next)
        })
        .sum()
}

/// Every `q(s, a)`, `[n_states * n_actions]`; actions the model does not allow get
/// `-inf` so that no greedy choice picks them.
pub fn q_table(model: &Model, v: &[f64], gamma: f64) -> Vec<f64> {
    let (n_s, n_a) = (model.n_states(), model.n_actions());
    let mut q = vec![0.0; n_s * n_a];
    for s in 0..n_s {
        for a in 0..n_a {
            q[s * n_a + a] = if model.allowed(s, a) {
                q_value(model, v, s, a, gamma)
            } else {
                f64::NEG_INFINITY
            };
        }
    }
    q
}

/// The greedy policy of `q` (ties within 1e-9 to the lowest action).
pub fn greedy_policy(q: &[f64], n_actions: usize) -> Vec<usize> {
    q.chunks_exact(n_actions).map(greedy).collect()
}

/// A policy to evaluate: `pi(a | s)` as a row of probabilities per state.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub n_actions: usize,
    pub probs: Vec<f64>,
}

impl Policy {
    /// The equiprobable random policy (over the allowed actions when a model says which).
    pub fn uniform(n_states: usize, n_actions: usize, model: Option<&Model>) -> Policy {
        let mut probs = vec![0.0; n_states * n_actions];
        for s in 0..n_states {
            let allowed: Vec<usize> = (0..n_actions)
                .filter(|&a| model.is_none_or(|m| m.allowed(s, a)))
                .collect();
            let allowed = if allowed.is_empty() {
                (0..n_actions).collect()
            } else {
                allowed
            };
            for &a in &allowed {
                probs[s * n_actions + a] = 1.0 / allowed.len() as f64;
            }
        }
        Policy { n_actions, probs }
    }

    /// The deterministic policy taking `actions[s]` (action indices).
    pub fn deterministic(actions: &[usize], n_actions: usize) -> Policy {
        let mut probs = vec![0.0; actions.len() * n_actions];
        for (s, &a) in actions.iter().enumerate() {
            probs[s * n_actions + a] = 1.0;
        }
        Policy { n_actions, probs }
    }

    pub fn row(&self, s: usize) -> &[f64] {
        &self.probs[s * self.n_actions..(s + 1) * self.n_actions]
    }

    /// Reads a policy file: JSON with `"policy"`, one action per state (as `values.json`
    /// writes it, in the environment's action values), or `"probabilities"`, one row of
    /// `n_actions` probabilities per state.
    pub fn from_file(
        path: &Path,
        n_states: usize,
        n_actions: usize,
        action_start: i64,
    ) -> Result<Policy, TrainError> {
        let fail =
            |why: String| TrainError::Usage(format!("policy_file {}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let expect_states = |len: usize| {
            if len == n_states {
                Ok(())
            } else {
                Err(fail(format!(
                    "has {len} states, the environment {n_states}"
                )))
            }
        };
        if let Some(actions) = json.get("policy").and_then(Value::as_array) {
            expect_states(actions.len())?;
            let mut indices = Vec::with_capacity(n_states);
            for a in actions {
                let a = a
                    .as_i64()
                    .map(|a| a - action_start)
                    .filter(|a| (0..n_actions as i64).contains(a))
                    .ok_or_else(|| {
                        fail(format!(
                            "action {a} is not one of the environment's actions {action_start}..{}",
                            action_start + n_actions as i64 - 1
                        ))
                    })?;
                indices.push(a as usize);
            }
            return Ok(Policy::deterministic(&indices, n_actions));
        }
        if let Some(rows) = json.get("probabilities").and_then(Value::as_array) {
            expect_states(rows.len())?;
            let mut probs = Vec::with_capacity(n_states * n_actions);
            for (s, row) in rows.iter().enumerate() {
                let row: Vec<f64> = row
                    .as_array()
                    .filter(|r| r.len() == n_actions)
                    .and_then(|r| r.iter().map(Value::as_f64).collect())
                    .ok_or_else(|| fail(format!("row {s} is not {n_actions} numbers")))?;
                let total: f64 = row.iter().sum();
                if row.iter().any(|p| !(0.0..=1.0).contains(p)) || (total - 1.0).abs() > 1e-6 {
                    return Err(fail(format!("row {s} is not a probability distribution")));
                }
                probs.extend(row);
            }
            return Ok(Policy { n_actions, probs });
        }
        Err(fail(
            "expected {\"policy\": [one action per state]} (values.json's) or {\"probabilities\": \
             [[pi(a|s) per action] per state]}"
                .into(),
        ))
    }
}

/// `v_pi(s) = sum_a pi(a|s) q(s, a)` for one state.
#[inline]
pub fn expected_value(model: &Model, v: &[f64], pi: &Policy, s: usize, gamma: f64) -> f64 {
    pi.row(s)
        .iter()
        .enumerate()
        .filter(|(_, p)| **p > 0.0)
        .map(|(a, p)| p * q_value(model, v, s, a, gamma))
        .sum()
}

/// The most states [`PredictionError`] solves densely (a solve costs `n^3 / 3` multiplications:
/// 0.3 s at this size): larger models get no `rms_error`.
pub const EXACT_MAX_STATES: usize = 1500;

/// `v_pi` exactly, by Gaussian elimination (partial pivoting) of the Bellman equation
/// `(I - gamma P_pi) v = r_pi`; a terminating transition does not bootstrap. `None` when the
/// system is singular (with `gamma = 1`, a policy that can loop forever) or too big.
pub fn exact_values(model: &Model, pi: &Policy, gamma: f64) -> Option<Vec<f64>> {
    let n = model.n_states();
    if n > EXACT_MAX_STATES || pi.probs.len() != n * pi.n_actions {
        return None;
    }
    // Row-major `n x (n + 1)`, the right-hand side last.
    let w = n + 1;
    let mut a = vec![0.0; n * w];
    for s in 0..n {
        a[s * w + s] = 1.0;
        for (act, &p) in pi.row(s).iter().enumerate() {
            if p == 0.0 || act >= model.n_actions() {
                continue;
            }
            for o in model.outcomes(s, act) {
                a[s * w + n] += p * o.prob * o.reward;
                if !o.terminated {
                    a[s * w + o.next as usize] -= gamma * p * o.prob;
                }
            }
        }
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * w + col].abs().total_cmp(&a[j * w + col].abs()))?;
        if a[pivot * w + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..w {
                a.swap(col * w + k, pivot * w + k);
            }
        }
        let d = a[col * w + col];
        for k in col..w {
            a[col * w + k] /= d;
        }
        for row in 0..n {
            let f = a[row * w + col];
            if row != col && f != 0.0 {
                for k in col..w {
                    a[row * w + k] -= f * a[col * w + k];
                }
            }
        }
    }
    let v: Vec<f64> = (0..n).map(|s| a[s * w + n]).collect();
    v.iter().all(|x| x.is_finite()).then_some(v)
}

/// A state whose every outcome stays there, ends the episode and pays nothing: the book's
/// terminal states (the random walk's ends, FrozenLake's holes and goal). Its value is 0 by
/// definition and no method updates it.
pub fn is_absorbing(model: &Model, s: usize) -> bool {
    (0..model.n_actions()).all(|a| {
        model
            .outcomes(s, a)
            .iter()
            .all(|o| o.next as usize == s && o.terminated && o.reward == 0.0)
    })
}

/// The error of a prediction method's state values against the exact `v_pi` of the policy it
/// evaluates (Sutton & Barto Example 6.2): the root mean square over the non-terminal states.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionError {
    pub exact: Vec<f64>,
    /// The states averaged over (not [`is_absorbing`]).
    pub states: Vec<usize>,
}

impl PredictionError {
    /// `None` where there is no exact answer: no model, or [`exact_values`] has none.
    pub fn new(model: Option<&Model>, pi: &Policy, gamma: f64) -> Option<PredictionError> {
        let model = model?;
        let exact = exact_values(model, pi, gamma)?;
        let states: Vec<usize> = (0..model.n_states())
            .filter(|&s| !is_absorbing(model, s))
            .collect();
        (!states.is_empty()).then_some(PredictionError { exact, states })
    }

    /// `sqrt(mean over the states of (v(s) - v_pi(s))^2)`.
    pub fn rms(&self, v: &[f64]) -> f64 {
        let sum: f64 = self
            .states
            .iter()
            .map(|&s| (v[s] - self.exact[s]).powi(2))
            .sum();
        (sum / self.states.len() as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_env::ModelBuilder;

    #[test]
    fn backups_stop_at_terminating_transitions() {
        // Two states; from 0, action 0 ends with reward 1, action 1 goes to 1 with reward 0.
        let mut b = ModelBuilder::new(2, 2);
        b.outcome(1.0, 1, 1.0, true);
        b.end_pair();
        b.outcome(1.0, 1, 0.0, false);
        b.end_pair();
        for _ in 0..2 {
            b.outcome(1.0, 1, 0.0, true);
            b.end_pair();
        }
        let m = b.build().unwrap();
        let v = [0.0, 10.0];
        assert_eq!(q_value(&m, &v, 0, 0, 0.9), 1.0);
        assert_eq!(q_value(&m, &v, 0, 1, 0.9), 9.0);
        assert_eq!(greedy_policy(&q_table(&m, &v, 0.9), 2), vec![1, 0]);
    }

    #[test]
    fn random_walk_rms_error_is_the_books_hand_computation() {
        let env = engram_env::registry::make("RandomWalk-v0", &Default::default()).unwrap();
        let m = env.model().unwrap();
        let pi = Policy::uniform(7, 2, Some(&m));
        let err = PredictionError::new(Some(&m), &pi, 1.0).unwrap();
        // Example 6.2: v_pi(A..E) = 1/6 .. 5/6, the ends are terminal.
        assert_eq!(err.states, vec![1, 2, 3, 4, 5]);
        for s in 1..=5 {
            assert!(
                (err.exact[s] - s as f64 / 6.0).abs() < 1e-12,
                "{s}: {}",
                err.exact[s]
            );
        }
        // All values 0.5 (the book's start): errors 1/3, 1/6, 0, 1/6, 1/3, so the RMS is
        // sqrt((2/9 + 2/36) / 5) = sqrt(1/18).
        let rms = err.rms(&[0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]);
        assert!((rms - (1.0f64 / 18.0).sqrt()).abs() < 1e-12, "{rms}");
        assert_eq!(err.rms(&err.exact), 0.0);
        // A policy that never ends, undiscounted: no exact values.
        let right = Policy::deterministic(&[1; 7], 2);
        assert_eq!(exact_values(&m, &right, 1.0).unwrap()[1..6], [1.0; 5]);
        let stay = Policy::deterministic(&[0, 1, 0, 1, 0, 1, 0], 2);
        assert!(exact_values(&m, &stay, 1.0).is_none());
    }
}
