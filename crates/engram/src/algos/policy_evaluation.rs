//! Iterative policy evaluation (Sutton & Barto 4.1) on the environment's model:
//! `v(s) <- sum_a pi(a|s) sum_{s'} p(s' | s, a) [r + gamma v(s')]` until no value changes by
//! more than `theta`, for the equiprobable random policy (over the actions the model allows)
//! or `policy_file` (`values.json`'s `policy`, or `probabilities`). Figure 4.1 is this on
//! `GridWorld4x4-v0`. In-place sweeps by default (`in_place = false`: synchronous). A sweep is
//! one "env step" of the budget; `values.json` adds `q_pi` and its greedy policy.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{Session, StopReason};
use crate::tabular::bellman::{action_start, check_theta, dp_model, expected_value, Policy};
use crate::tabular::dp::{sweep_until_converged, Sweeps};
use crate::tabular::table_agent;
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

pub const NAME: &str = "policy-evaluation";
pub const DESCRIPTION: &str =
    "Iterative policy evaluation on the model (Sutton & Barto 4.1): random policy or a policy file";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub theta: f64,
    pub in_place: bool,
    pub policy_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            theta: 1e-10,
            in_place: true,
            policy_file: None,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        check_theta(self.theta)
    }

    fn policy(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Policy, TrainError> {
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
        self.policy(rc, probe).map(|_| ())
    }
}

/// Runs policy evaluation.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let model = dp_model(&rc.common.env, &rc.common.algo, &*probe)?;
    let pi = c.policy(rc, &*probe)?;
    let agent = table_agent(&rc.common.env, &*probe)?;
    let run = Sweeps {
        model: &model,
        agent,
        action_start: action_start(&*probe),
        gamma: c.gamma,
        theta: c.theta,
        in_place: c.in_place,
    };
    // ALGO LOGIC: the Bellman expectation backup.
    sweep_until_converged(session, run, |from, s| {
        expected_value(&model, from, &pi, s, c.gamma)
    })
}
