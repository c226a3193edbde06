//! Bandit agents (Sutton & Barto chapter 2) on a one-state environment (`Bandit-v0`, the
//! k-armed testbed): action values by sample averages (`alpha = 0`, 2.4) or a constant step
//! (2.5), initial values `q_init` (optimistic when high, 2.6), chosen epsilon-greedily (2.3),
//! by UCB (`exploration = "ucb"`, 2.7), by softmax (`boltzmann`), or the gradient bandit
//! (`exploration = "gradient"`, 2.8): preferences `H` updated by
//! `H(a) += alpha (R - baseline) (1[a = A] - pi(a))`, `pi = softmax(H)`, the baseline being the
//! mean of the rewards so far, this one included (`gradient_baseline = false`: 0).
//!
//! Every pull is one update and one row of `metrics.csv` when `log_interval = 1`, with the
//! columns `reward` and `optimal_action` (1 when the pulled arm was the environment's optimal
//! one, from its `info["optimal_arm"]`; NaN when the environment names none): the curves of
//! Figures 2.2-2.6 are their means over runs.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{ConfigError, ExplorationKind};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::explore::sample;
use crate::tabular::explore::Explorer;
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::table_agent;
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use engram_env::{Env, InfoValue};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "bandit";
pub const DESCRIPTION: &str =
    "k-armed bandit agents (Sutton & Barto ch. 2): sample averages, constant step, optimistic, UCB, gradient";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {}

impl Config {
    pub fn validate(&self, rc: &RunConfig) -> Result<(), ConfigError> {
        if rc.tab.exploration == ExplorationKind::Gradient && rc.tab.alpha <= 0.0 {
            return Err(crate::config::invalid(
                "alpha",
                "the gradient bandit needs a positive step size for its preferences, e.g. --set alpha=0.1",
            ));
        }
        Ok(())
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXPLORES: bool = true;
    const EXAMPLE_ENV: &'static str = "Bandit-v0";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        let agent = table_agent(&rc.common.env, probe)?;
        if agent.states().n_states() != 1 {
            return Err(TrainError::Usage(format!(
                "bandit agents act in a single state, and {} has {}: use q-learning, sarsa or mc \
                 for environments with states (or Bandit-v0)",
                rc.common.env,
                agent.states().n_states()
            )));
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    q: Vec<f64>,
    counts: Vec<u64>,
    preferences: Vec<f64>,
    mean_reward: f64,
    pulls: u64,
    epsilon: f64,
}

/// Runs a bandit agent.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let _ = c;
    let env_id = &rc.common.env;
    let agent = table_agent(env_id, &*rc.common.make_env()?)?;
    let mut runner = Runner::make(&rc.common)?;
    runner.keep_info();
    let k = runner.n_actions;
    let tab = &rc.tab;
    let mut explorer = Explorer::new(tab, k);
    let gradient = tab.exploration == ExplorationKind::Gradient;
    let mut q = vec![tab.q_init; k];
    let mut counts = vec![0u64; k];
    let mut preferences = vec![0.0; k];
    let (mut mean_reward, mut pulls) = (0.0, 0u64);
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("action values", saved.q.len(), k)?;
        check_len("pull counts", saved.counts.len(), k)?;
        check_len("preferences", saved.preferences.len(), k)?;
        runner.restore(&saved.runner)?;
        (q, counts, preferences) = (saved.q, saved.counts, saved.preferences);
        (mean_reward, pulls) = (saved.mean_reward, saved.pulls);
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |q: &[f64],
                 counts: &[u64],
                 prefs: &[f64],
                 mean: f64,
                 pulls: u64,
                 runner: &Runner,
                 eps: f64| {
        let state = State {
            runner: runner.save(),
            q: q.to_vec(),
            counts: counts.to_vec(),
            preferences: prefs.to_vec(),
            mean_reward: mean,
            pulls,
            epsilon: eps,
        };
        // The agent plays the arm with the highest preference (gradient) or value.
        let played = if gradient { prefs } else { q };
        CheckpointParts {
            params: agent_params(played, k),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let mut pi = vec![0.0; k];
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let a = if gradient {
                softmax(&preferences, &mut pi);
                sample(&pi, &mut runner.rng)
            } else {
                explorer.choose(&q, &counts, &mut runner.rng)
            };
            let t = runner.step(a, &monitor)?;
            let r = t.reward;
            counts[a] += 1;
            pulls += 1;
            // ALGO LOGIC: the incremental value update, or the gradient step on preferences.
            if gradient {
                if tab.gradient_baseline {
                    mean_reward += (r - mean_reward) / pulls as f64;
                }
                for (b, h) in preferences.iter_mut().enumerate() {
                    let chosen = if b == a { 1.0 } else { 0.0 };
                    *h += tab.alpha * (r - mean_reward) * (chosen - pi[b]);
                }
            } else {
                let step = if tab.alpha > 0.0 {
                    tab.alpha
                } else {
                    1.0 / counts[a] as f64
                };
                q[a] += step * (r - q[a]);
            }
            if t.done() {
                explorer.end_episode();
            }
            let optimal = runner
                .last_info
                .iter()
                .find(|(name, _)| *name == "optimal_arm")
                .map(|(_, v)| match v {
                    InfoValue::Int(best) => (*best == a as i64) as u8 as f64,
                    _ => f64::NAN,
                })
                .unwrap_or(f64::NAN);
            let metrics = [
                Metric::mean("reward", r),
                Metric::mean("optimal_action", optimal),
            ];
            session.after_update(1, &metrics, &mut || {
                parts(
                    &q,
                    &counts,
                    &preferences,
                    mean_reward,
                    pulls,
                    &runner,
                    explorer.epsilon,
                )
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(
            &q,
            &counts,
            &preferences,
            mean_reward,
            pulls,
            &runner,
            explorer.epsilon,
        )
    })?;
    let played = if gradient { &preferences } else { &q };
    Values::from_q(played, k, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}

fn softmax(h: &[f64], out: &mut [f64]) {
    let top = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (o, x) in out.iter_mut().zip(h) {
        *o = (x - top).exp();
        total += *o;
    }
    out.iter_mut().for_each(|o| *o /= total);
}
