//! Policy iteration (Howard 1960; Sutton & Barto 4.3) on the environment's model: evaluate
//! the policy (sweeps of the expectation backup until no value changes by more than `theta`,
//! or `eval_sweeps` sweeps: modified policy iteration), then make it greedy in `q_pi`, until
//! the policy is stable. The greedy step keeps the current action when it is among the best
//! (within 1e-9), so ties cannot make the policy cycle; otherwise the lowest best action.
//!
//! The first policy is the equiprobable random policy over the allowed actions (every
//! episodic example of the book ends under it), or `policy_file`. Sweeps are in place by
//! default (`in_place = false`: synchronous). Each evaluation sweep is one "env step" of the
//! budget; `values.json` holds `v_pi`, `q_pi` and the final policy.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::bellman::{
    action_start, check_theta, dp_model, expected_value, q_table, Policy,
};
use crate::tabular::dp::{self, sweep};
use crate::tabular::table_agent;
use crate::tabular::values::{agent_params, check_len, saved_state};
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

pub const NAME: &str = "policy-iteration";
pub const DESCRIPTION: &str =
    "Policy iteration on the model (Sutton & Barto 4.3); eval_sweeps > 0: modified policy iteration";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub theta: f64,
    pub in_place: bool,
    /// Sweeps per evaluation (0: until `theta`).
    pub eval_sweeps: u64,
    pub policy_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            theta: 1e-10,
            in_place: true,
            eval_sweeps: 0,
            policy_file: None,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        check_theta(self.theta)
    }

    fn first_policy(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Policy, TrainError> {
        let model = dp_model(&rc.common.env, &rc.common.algo, probe)?;
        match &self.policy_file {
            Some(path) => Policy::from_file(
                Path::new(path),
                model.n_states(),
                model.n_actions(),
                action_start(probe),
            ),
            None => Ok(Policy::uniform(
                model.n_states(),
                model.n_actions(),
                Some(&model),
            )),
        }
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXAMPLE_ENV: &'static str = "GridWorld4x4-v0";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        self.first_policy(rc, probe).map(|_| ())
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    v: Vec<f64>,
    /// The deterministic policy after the first improvement (`None` before it).
    policy: Option<Vec<usize>>,
    sweeps_this_evaluation: u64,
    improvements: u64,
    /// The policy is stable: a resumed run has nothing left to do.
    stable: bool,
}

/// Runs policy iteration.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let model = dp_model(&rc.common.env, &rc.common.algo, &*probe)?;
    let first = c.first_policy(rc, &*probe)?;
    let agent = table_agent(&rc.common.env, &*probe)?;
    let (n_s, n) = (model.n_states(), model.n_actions());
    let mut v = vec![0.0; n_s];
    let mut policy: Option<Vec<usize>> = None;
    let (mut sweeps, mut improvements) = (0u64, 0u64);
    let mut stable = false;
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("V table", saved.v.len(), n_s)?;
        if let Some(p) = &saved.policy {
            check_len("policy", p.len(), n_s)?;
            if p.iter().any(|&a| a >= n) {
                return Err(TrainError::Usage(
                    "the checkpoint's policy has actions outside this environment".into(),
                ));
            }
        }
        (v, policy) = (saved.v, saved.policy);
        (sweeps, improvements) = (saved.sweeps_this_evaluation, saved.improvements);
        stable = saved.stable;
    }
    session.start(agent, true)?;
    // The agent plays the policy: its action raised to the top of each q row.
    let played = |v: &[f64], policy: &Option<Vec<usize>>| {
        let mut q = q_table(&model, v, c.gamma);
        if let Some(p) = policy {
            for (s, &a) in p.iter().enumerate() {
                let row = &mut q[s * n..(s + 1) * n];
                let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                row[a] = top + 1e-6 * top.abs().max(1.0);
            }
        }
        q
    };
    let parts =
        |v: &[f64], policy: &Option<Vec<usize>>, sweeps: u64, improvements: u64, stable: bool| {
            let state = State {
                v: v.to_vec(),
                policy: policy.clone(),
                sweeps_this_evaluation: sweeps,
                improvements,
                stable,
            };
            CheckpointParts {
                params: agent_params(&played(v, policy), n),
                collectors: vec![serde_json::to_value(state).ok()],
                ..CheckpointParts::default()
            }
        };
    let mut previous = v.clone();
    let result: Result<(), TrainError> = (|| {
        while session.running() && !stable {
            // ALGO LOGIC: one sweep of policy evaluation.
            let pi = match &policy {
                Some(p) => Policy::deterministic(p, n),
                None => first.clone(),
            };
            let delta = sweep(&mut v, &mut previous, c.in_place, |from, s| {
                expected_value(&model, from, &pi, s, c.gamma)
            });
            sweeps += 1;
            let evaluated = delta < c.theta || (c.eval_sweeps > 0 && sweeps >= c.eval_sweeps);
            let mut changed = 0u64;
            if evaluated {
                // ALGO LOGIC: policy improvement, keeping the current action on ties.
                let q = q_table(&model, &v, c.gamma);
                let mut next = Vec::with_capacity(n_s);
                for s in 0..n_s {
                    let row = &q[s * n..(s + 1) * n];
                    let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let tol = 1e-9 * best.abs().max(1.0);
                    let keep = policy
                        .as_ref()
                        .map(|p| p[s])
                        .filter(|&a| row[a] >= best - tol);
                    let a = keep
                        .unwrap_or_else(|| row.iter().position(|&x| x >= best - tol).unwrap_or(0));
                    if policy.as_ref().is_none_or(|p| p[s] != a) {
                        changed += 1;
                    }
                    next.push(a);
                }
                // Stable: no action changed and the evaluation had converged.
                stable = policy.is_some() && changed == 0 && delta < c.theta;
                policy = Some(next);
                improvements += 1;
                sweeps = 0;
            }
            let metrics = [
                Metric::last("delta", delta),
                Metric::last("improvements", improvements as f64),
                Metric::mean("policy_changes", changed as f64),
            ];
            session.after_update(1, &metrics, &mut || {
                parts(&v, &policy, sweeps, improvements, stable)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || parts(&v, &policy, sweeps, improvements, stable))?;
    let mut values = dp::values(&model, &v, c.gamma, action_start(&*probe));
    if let Some(p) = &policy {
        values.policy = p
            .iter()
            .map(|&a| a as i64 + action_start(&*probe))
            .collect();
    }
    values.write(&session.run_dir)?;
    Ok(stop)
}
