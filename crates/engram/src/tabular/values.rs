//! What a tabular run leaves besides checkpoints: `values.json`, and the parameters the
//! evaluator plays; and reading a tabular method's saved state back.

use crate::agent::tabular::greedy;
use crate::error::TrainError;
use crate::runtime::checkpoint::write_atomic;
use crate::runtime::Session;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// `values.json`: `v` (state values), `q` (action values, one row per state; empty when
/// the method learns none) and `policy` (the greedy action per state, in the environment's
/// action values, ties within 1e-9 to the lowest action; empty when there is none).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Values {
    pub v: Vec<f64>,
    pub q: Vec<Vec<f64>>,
    pub policy: Vec<i64>,
}

impl Values {
    /// From a state-value table and an action-value table (`q` may be empty).
    pub fn new(v: Vec<f64>, q: &[f64], n_actions: usize, action_start: i64) -> Values {
        let rows: Vec<Vec<f64>> = q
            .chunks_exact(n_actions.max(1))
            .map(<[f64]>::to_vec)
            .collect();
        let policy = rows
            .iter()
            .map(|r| greedy(r) as i64 + action_start)
            .collect();
        Values { v, q: rows, policy }
    }

    /// From action values alone: `v(s) = max_a q(s, a)`.
    pub fn from_q(q: &[f64], n_actions: usize, action_start: i64) -> Values {
        let v = q
            .chunks_exact(n_actions.max(1))
            .map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        Values::new(v, q, n_actions, action_start)
    }

    /// Writes `values.json` into the run directory. Non-finite values (an action a model
    /// forbids) are written as `null`.
    pub fn write(&self, run_dir: &Path) -> Result<(), TrainError> {
        let path = run_dir.join("values.json");
        let finite = |x: &f64| {
            if x.is_finite() {
                serde_json::json!(x)
            } else {
                serde_json::Value::Null
            }
        };
        let json = serde_json::json!({
            "v": self.v.iter().map(finite).collect::<Vec<_>>(),
            "q": self.q.iter().map(|r| r.iter().map(finite).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "policy": self.policy,
        });
        let text = serde_json::to_string(&json)
            .map_err(|e| TrainError::Policy(format!("cannot write values.json: {e}")))?;
        write_atomic(&path, text.as_bytes()).map_err(|source| TrainError::Io { path, source })
    }
}

/// The agent's `f32` parameters for action values `q`: each row rounded, and nudged where
/// rounding would change its greedy action, so that the evaluator and `engram eval` play
/// exactly `values.json`'s policy. Forbidden actions (`-inf`) become the lowest `f32`.
pub fn agent_params(q: &[f64], n_actions: usize) -> Vec<f32> {
    let mut params: Vec<f32> = q
        .iter()
        .map(|&x| {
            if x.is_finite() {
                x as f32
            } else if x > 0.0 {
                f32::MAX
            } else {
                f32::MIN
            }
        })
        .collect();
    for (row, out) in q
        .chunks_exact(n_actions)
        .zip(params.chunks_exact_mut(n_actions))
    {
        let want = greedy(row);
        for _ in 0..64 {
            let rounded: Vec<f64> = out.iter().map(|&x| x as f64).collect();
            let got = greedy(&rounded);
            if got == want {
                break;
            }
            // Raise the wanted action just above the one rounding made greedy.
            let target = out[got].max(out[want]);
            let bumped = target + (target.abs() * 1e-6).max(1e-6);
            out[want] = if bumped.is_finite() { bumped } else { f32::MAX };
        }
    }
    params
}

/// The method's state a resumed run continues from (the checkpoint's first collector), or
/// `None` for a fresh run.
pub fn saved_state<T: DeserializeOwned>(session: &Session) -> Result<Option<T>, TrainError> {
    let Some(r) = &session.resume else {
        return Ok(None);
    };
    let value = r
        .state
        .collectors
        .first()
        .cloned()
        .flatten()
        .ok_or_else(|| {
            TrainError::Usage(format!(
                "{} holds no tabular state: it was not written by this algorithm",
                r.path.display()
            ))
        })?;
    serde_json::from_value(value).map(Some).map_err(|e| {
        TrainError::Usage(format!(
            "{}: unreadable tabular state: {e}",
            r.path.display()
        ))
    })
}

/// Checks that a restored table has the environment's size.
pub fn check_len(what: &str, len: usize, expected: usize) -> Result<(), TrainError> {
    if len == expected {
        Ok(())
    } else {
        Err(TrainError::Usage(format!(
            "the checkpoint's {what} has {len} entries, this environment needs {expected}: it \
             belongs to another environment or is damaged"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_never_changes_the_greedy_action() {
        let q = [1.0, 1.0 + 1e-10, 0.5, 1.0 + 1e-8, 1.0, f64::NEG_INFINITY];
        let p = agent_params(&q, 3);
        let rows: Vec<Vec<f64>> = p
            .chunks(3)
            .map(|r| r.iter().map(|&x| x as f64).collect())
            .collect();
        assert_eq!(greedy(&rows[0]), greedy(&q[..3]));
        assert_eq!(greedy(&rows[1]), greedy(&q[3..]));
        assert!(p.iter().all(|x| x.is_finite()));
    }
}
