//! TD(0) prediction (Sutton 1988; Sutton & Barto 6.1): the state values of a fixed policy,
//! `V(S) += alpha [R + gamma V(S') - V(S)]`, and n-step TD (7.1) with `n_step` > 1. The
//! policy is the equiprobable random one, or `policy_file` (`values.json`'s `policy`, or
//! `probabilities`). Example 6.2's random walk is `RandomWalk-v0` under the random policy.
//!
//! `values.json` holds `v`; where the environment has a model, also `q` and the greedy
//! `policy` by one-step lookahead on `v` (the first step of policy improvement).
//!
//! Metrics: `td_error` (mean |TD error| per step) and, where the environment has a model,
//! `rms_error`: the root mean square error of `V` against the policy's exact `v_pi` (a
//! linear solve of the model's Bellman equation) over the non-terminal states, after each
//! episode (Example 6.2's right panel with `--seeds`).

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::bellman::{q_table, Policy, PredictionError};
use crate::tabular::control::step_toward;
use crate::tabular::explore::sample;
use crate::tabular::nstep::Window;
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use crate::tabular::{chunk_len, table_agent};
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

pub const NAME: &str = "td0";
pub const DESCRIPTION: &str =
    "TD(0) and n-step TD prediction of a fixed policy's state values (Sutton & Barto 6.1, 7.1)";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub n_step: usize,
    /// The policy to evaluate (unset: equiprobable random).
    pub policy_file: Option<String>,
    /// Initial state values.
    pub v_init: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            n_step: 1,
            policy_file: None,
            v_init: 0.0,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        check::count("n_step", self.n_step, 10_000, "steps in the n-step window")?;
        if !self.v_init.is_finite() {
            return Err(crate::config::invalid("v_init", "must be a finite number"));
        }
        Ok(())
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXPLORES: bool = true;
    const EXAMPLE_ENV: &'static str = "RandomWalk-v0";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        let agent = table_agent(&rc.common.env, probe)?;
        policy(self, &agent.states().n_states(), agent.n_actions(), probe).map(|_| ())
    }
}

fn policy(
    c: &Config,
    n_states: &usize,
    n_actions: usize,
    env: &dyn Env,
) -> Result<Policy, TrainError> {
    let start = match env.action_space() {
        engram_env::Space::Discrete { start, .. } => *start,
        _ => 0,
    };
    match &c.policy_file {
        Some(path) => Policy::from_file(Path::new(path), *n_states, n_actions, start),
        None => Ok(Policy::uniform(
            *n_states,
            n_actions,
            env.model().as_deref(),
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    v: Vec<f64>,
    visits: Vec<u64>,
    window: Window,
}

/// Runs TD prediction.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let env_id = &rc.common.env;
    let probe = rc.common.make_env()?;
    let agent = table_agent(env_id, &*probe)?;
    let model = probe.model();
    let mut runner = Runner::make(&rc.common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let pi = policy(c, &n_s, n, &*probe)?;
    let error = PredictionError::new(model.as_deref(), &pi, c.gamma);
    let mut v = vec![c.v_init; n_s];
    let mut visits = vec![0u64; n_s];
    let mut window = Window::new(c.n_step);
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("V table", saved.v.len(), v.len())?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        runner.restore(&saved.runner)?;
        (v, visits) = (saved.v, saved.visits);
        window.restore(saved.window);
    }
    session.start(agent, true)?;
    // The agent plays the one-step lookahead's greedy actions where there is a model.
    let lookahead = |v: &[f64]| match &model {
        Some(m) => q_table(m, v, c.gamma),
        None => vec![0.0; n_s * n],
    };
    let parts = |v: &[f64], visits: &[u64], runner: &Runner, window: &Window| {
        let state = State {
            runner: runner.save(),
            v: v.to_vec(),
            visits: visits.to_vec(),
            window: window.clone(),
        };
        CheckpointParts {
            params: agent_params(&lookahead(v), n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let (gamma, alpha) = (c.gamma, rc.tab.alpha);
    let update = |v: &mut [f64], visits: &[u64], s: usize, target: f64| {
        step_toward(v, s, target, alpha, visits[s])
    };
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let chunk = chunk_len(&session);
            let (mut steps, mut td_sum) = (0u64, 0.0);
            while steps < chunk {
                let s = runner.state;
                let a = sample(pi.row(s), &mut runner.rng);
                let t = runner.step(a, &monitor)?;
                visits[s] += 1;
                steps += 1;
                // ALGO LOGIC: the n-step TD update of the oldest state in the window.
                let boot = if t.terminated { 0.0 } else { v[t.next] };
                window.push(s, a, t.reward);
                if window.full() {
                    if let Some(e) = window.oldest() {
                        td_sum +=
                            update(&mut v, &visits, e.state, window.n_step_return(gamma, boot));
                    }
                    window.pop();
                }
                if t.done() {
                    while let Some(e) = window.oldest() {
                        td_sum +=
                            update(&mut v, &visits, e.state, window.n_step_return(gamma, boot));
                        window.pop();
                    }
                    break;
                }
            }
            let td = Metric::mean("td_error", td_sum / steps.max(1) as f64);
            let metrics = match &error {
                Some(e) => vec![td, Metric::last("rms_error", e.rms(&v))],
                None => vec![td],
            };
            session.after_update(steps, &metrics, &mut || {
                parts(&v, &visits, &runner, &window)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || parts(&v, &visits, &runner, &window))?;
    let values = match &model {
        Some(m) => Values::new(v.clone(), &q_table(m, &v, c.gamma), n, runner.action_start),
        None => Values::new(v.clone(), &[], n, runner.action_start),
    };
    values.write(&session.run_dir)?;
    Ok(stop)
}
