//! Monte Carlo methods (Sutton & Barto chapter 5), one whole episode per update:
//!
//! * `mode = "prediction"`: first-visit (or, with `first_visit = false`, every-visit) MC
//!   prediction of a fixed policy's state values (5.1): the equiprobable random policy or
//!   `policy_file`.
//! * `mode = "control"`: on-policy first-visit MC control with an epsilon-soft policy (5.4),
//!   acting by the shared exploration strategy.
//! * `mode = "exploring-starts"`: MC ES (5.3): each episode starts in a uniformly drawn state
//!   with a uniformly drawn first action, then follows the greedy policy (ties at random).
//!   The environment must let its state be set (toy text, the textbook's grids and
//!   Blackjack do; states it refuses, such as Blackjack's sums no deal holds, are redrawn).
//! * `mode = "off-policy"`: off-policy MC control with weighted importance sampling (5.7):
//!   behaviour by the exploration strategy, target the greedy policy.
//!
//! Prediction starts from `v_init` (Example 6.2: 0.5) and, where the environment has a model,
//! logs `rms_error` after each episode: the root mean square error of `V` against the
//! policy's exact `v_pi` (a linear solve of the model's Bellman equation) over the
//! non-terminal states.
//!
//! Returns are averaged (`alpha = 0`, the book's) or followed with a constant step `alpha`.
//! An episode longer than `max_episode_length` steps is cut there (MC ES with a greedy policy
//! can loop forever where no time limit ends the episode).

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::bellman::{q_table, Policy, PredictionError};
use crate::tabular::explore::sample;
use crate::tabular::explore::{argmax_random_tie, Explorer};
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::table_agent;
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use engram_env::{Env, Space};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

pub const NAME: &str = "mc";
pub const DESCRIPTION: &str =
    "Monte Carlo prediction and control (Sutton & Barto ch. 5): first/every visit, epsilon-soft, exploring starts, off-policy weighted IS";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Prediction,
    Control,
    ExploringStarts,
    OffPolicy,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub mode: Mode,
    pub first_visit: bool,
    pub policy_file: Option<String>,
    pub max_episode_length: u64,
    /// Initial state values of prediction.
    pub v_init: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            mode: Mode::Control,
            first_visit: true,
            policy_file: None,
            max_episode_length: 100_000,
            v_init: 0.0,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        if self.max_episode_length == 0 {
            return Err(invalid("max_episode_length", "must be at least 1"));
        }
        if !self.v_init.is_finite() {
            return Err(invalid("v_init", "must be a finite number"));
        }
        if self.policy_file.is_some() && self.mode != Mode::Prediction {
            return Err(invalid(
                "policy_file",
                "is the policy MC prediction evaluates: set mode = \"prediction\", or leave it unset",
            ));
        }
        Ok(())
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXPLORES: bool = true;
    const EXAMPLE_ENV: &'static str = "FrozenLake-v1";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        let agent = table_agent(&rc.common.env, probe)?;
        if self.mode == Mode::ExploringStarts && probe.state().is_none() {
            return Err(TrainError::Usage(format!(
                "exploring starts set the start state, which {} cannot: use mode = \"control\"",
                rc.common.env
            )));
        }
        if self.mode == Mode::Prediction {
            prediction_policy(self, agent.states().n_states(), agent.n_actions(), probe)?;
        }
        Ok(())
    }
}

fn prediction_policy(
    c: &Config,
    n_states: usize,
    n_actions: usize,
    env: &dyn Env,
) -> Result<Policy, TrainError> {
    let start = match env.action_space() {
        Space::Discrete { start, .. } => *start,
        _ => 0,
    };
    match &c.policy_file {
        Some(path) => Policy::from_file(Path::new(path), n_states, n_actions, start),
        None => Ok(Policy::uniform(n_states, n_actions, env.model().as_deref())),
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    /// State values (prediction) or action values (control), and their visit counts or
    /// (off-policy) cumulative importance weights.
    values: Vec<f64>,
    weights: Vec<f64>,
    epsilon: f64,
}

/// One step of an episode as MC keeps it.
struct Step {
    state: usize,
    action: usize,
    reward: f64,
    /// The behaviour policy's probability of the action (off-policy).
    behaviour: f64,
}

/// Visit counts for exploration bonuses (on-policy weights count visits).
fn pair_counts(weights: &[f64], counts: &mut [u64]) {
    for (c, w) in counts.iter_mut().zip(weights) {
        *c = *w as u64;
    }
}

/// Runs Monte Carlo.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let env_id = &rc.common.env;
    let probe = rc.common.make_env()?;
    let agent = table_agent(env_id, &*probe)?;
    let model = probe.model();
    let mut runner = Runner::make(&rc.common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let tab = &rc.tab;
    let mut explorer = Explorer::new(tab, n);
    let predicting = c.mode == Mode::Prediction;
    let pi = if predicting {
        Some(prediction_policy(c, n_s, n, &*probe)?)
    } else {
        None
    };
    let size = if predicting { n_s } else { n_s * n };
    let init = if predicting { c.v_init } else { tab.q_init };
    let error = pi
        .as_ref()
        .and_then(|pi| PredictionError::new(model.as_deref(), pi, c.gamma));
    let mut values = vec![init; size];
    let mut weights = vec![0.0; size];
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("value table", saved.values.len(), size)?;
        check_len("weights", saved.weights.len(), size)?;
        runner.restore(&saved.runner)?;
        (values, weights) = (saved.values, saved.weights);
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let q_of = |values: &[f64]| -> Vec<f64> {
        match (&model, predicting) {
            (_, false) => values.to_vec(),
            (Some(m), true) => q_table(m, values, c.gamma),
            (None, true) => vec![0.0; n_s * n],
        }
    };
    let parts = |values: &[f64], weights: &[f64], runner: &Runner, eps: f64| {
        let state = State {
            runner: runner.save(),
            values: values.to_vec(),
            weights: weights.to_vec(),
            epsilon: eps,
        };
        CheckpointParts {
            params: agent_params(&q_of(values), n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let mut episode: Vec<Step> = Vec::new();
    let mut probs = vec![0.0; n];
    let mut counts = vec![0u64; n];
    let mut first_seen = vec![usize::MAX; size];
    let result: Result<(), TrainError> = (|| {
        // Checkpoints fall between episodes, so a saved run holds no half episode.
        while session.running() {
            episode.clear();
            if c.mode == Mode::ExploringStarts {
                runner.exploring_start()?;
            }
            loop {
                let s = runner.state;
                let row = s * n..(s + 1) * n;
                let (a, behaviour) = match c.mode {
                    Mode::Prediction => {
                        let p = pi.as_ref().map(|p| p.row(s)).unwrap_or(&[]);
                        let a = sample(p, &mut runner.rng);
                        (a, p.get(a).copied().unwrap_or(1.0))
                    }
                    Mode::ExploringStarts if episode.is_empty() => {
                        (runner.rng.gen_range(0..n), 1.0)
                    }
                    Mode::ExploringStarts => {
                        (argmax_random_tie(&values[row], &mut runner.rng), 1.0)
                    }
                    Mode::Control => {
                        pair_counts(&weights[row.clone()], &mut counts);
                        (explorer.choose(&values[row], &counts, &mut runner.rng), 1.0)
                    }
                    Mode::OffPolicy => {
                        pair_counts(&weights[row.clone()], &mut counts);
                        explorer.probabilities(&values[row.clone()], &counts, &mut probs);
                        let a = sample(&probs, &mut runner.rng);
                        (a, probs[a])
                    }
                };
                let t = runner.step(a, &monitor)?;
                episode.push(Step {
                    state: s,
                    action: a,
                    reward: t.reward,
                    behaviour,
                });
                if t.done() {
                    break;
                }
                if episode.len() as u64 >= c.max_episode_length {
                    runner.cut_episode(&monitor)?;
                    break;
                }
            }
            // ALGO LOGIC: returns backwards from the episode's end.
            let key = |st: &Step| {
                if predicting {
                    st.state
                } else {
                    st.state * n + st.action
                }
            };
            if c.first_visit {
                for (t, st) in episode.iter().enumerate().rev() {
                    first_seen[key(st)] = t;
                }
            }
            let (mut g, mut w, mut change) = (0.0, 1.0, 0.0);
            for (t, st) in episode.iter().enumerate().rev() {
                g = c.gamma * g + st.reward;
                let k = key(st);
                if c.mode == Mode::OffPolicy {
                    // Weighted importance sampling (Sutton & Barto 5.7).
                    weights[k] += w;
                    let delta = w / weights[k] * (g - values[k]);
                    values[k] += delta;
                    change += delta.abs();
                    let row = &values[st.state * n..(st.state + 1) * n];
                    if row[st.action] < row.iter().copied().fold(f64::NEG_INFINITY, f64::max) {
                        break;
                    }
                    w /= st.behaviour;
                    continue;
                }
                if c.first_visit && first_seen[k] != t {
                    continue;
                }
                weights[k] += 1.0;
                let step = if tab.alpha > 0.0 {
                    tab.alpha
                } else {
                    1.0 / weights[k]
                };
                let delta = step * (g - values[k]);
                values[k] += delta;
                change += delta.abs();
            }
            if c.first_visit {
                for st in &episode {
                    first_seen[key(st)] = usize::MAX;
                }
            }
            explorer.end_episode();
            let mut metrics = vec![
                Metric::mean("value_change", change / episode.len().max(1) as f64),
                Metric::last("epsilon", explorer.epsilon),
            ];
            if let Some(e) = &error {
                metrics.push(Metric::last("rms_error", e.rms(&values)));
            }
            session.after_update(episode.len() as u64, &metrics, &mut || {
                parts(&values, &weights, &runner, explorer.epsilon)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&values, &weights, &runner, explorer.epsilon)
    })?;
    let out = if predicting {
        let q = if model.is_some() {
            q_of(&values)
        } else {
            Vec::new()
        };
        Values::new(values.clone(), &q, n, runner.action_start)
    } else {
        Values::from_q(&values, n, runner.action_start)
    };
    out.write(&session.run_dir)?;
    Ok(stop)
}
