//! Value iteration (Bellman 1957; Sutton & Barto 4.4) on the environment's model:
//! `v(s) <- max_a sum_{s'} p(s' | s, a) [r + gamma v(s')]`, sweep after sweep, until no value
//! changes by more than `theta`; then the greedy policy (ties within 1e-9 go to the lowest
//! action, e.g. the smallest stake of Figure 4.3). Only the actions the model allows count
//! (Jack's moves of cars that are there, the gambler's reachable stakes).
//!
//! Sweeps update in place (Gauss-Seidel, the book's) or, with `in_place = false`, from the
//! previous sweep's values (synchronous). Values are `f64`. A sweep is one "env step" of the
//! run's budget and counters: no environment is stepped.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{Session, StopReason};
use crate::tabular::bellman::{action_start, check_theta, dp_model, q_value};
use crate::tabular::dp::{sweep_until_converged, Sweeps};
use crate::tabular::table_agent;
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "value-iteration";
pub const DESCRIPTION: &str = "Value iteration on the environment's model (Sutton & Barto 4.4)";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub theta: f64,
    pub in_place: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            theta: 1e-10,
            in_place: true,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        check_theta(self.theta)
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXAMPLE_ENV: &'static str = "GridWorld4x4-v0";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        dp_model(&rc.common.env, &rc.common.algo, probe).map(|_| ())
    }
}

/// Runs value iteration.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let model = dp_model(&rc.common.env, &rc.common.algo, &*probe)?;
    let agent = table_agent(&rc.common.env, &*probe)?;
    let n = model.n_actions();
    let run = Sweeps {
        model: &model,
        agent,
        action_start: action_start(&*probe),
        gamma: c.gamma,
        theta: c.theta,
        in_place: c.in_place,
    };
    sweep_until_converged(session, run, |from, s| {
        // ALGO LOGIC: the Bellman optimality backup.
        let best = (0..n)
            .filter(|&a| model.allowed(s, a))
            .map(|a| q_value(&model, from, s, a, c.gamma))
            .fold(f64::NEG_INFINITY, f64::max);
        if best.is_finite() {
            best
        } else {
            0.0
        }
    })
}
