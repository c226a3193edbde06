//! Q-learning (Watkins 1989; Sutton & Barto 6.5), off-policy TD control:
//! `Q(S, A) += alpha [R + gamma max_a Q(S', a) - Q(S, A)]`, acting with the shared
//! exploration strategies (epsilon-greedy by default).
//!
//! With `n_step` > 1 the target is the n-step tree backup (Sutton & Barto 7.5) of the greedy
//! target policy: a window step whose action was greedy passes the return behind it on,
//! otherwise the backup stops at `max_a Q` there. No importance sampling is needed; `n_step =
//! 1` is plain Q-learning. A truncated episode (time limit) bootstraps from its last state, a
//! terminated one does not. `alpha = 0` uses sample averages (1 / visits of the pair).
//!
//! Each env step is one update; the session hears of them every [`crate::tabular::CHUNK`] steps and at every
//! episode's end.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::explore::Explorer;
use crate::tabular::nstep::Window;
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use crate::tabular::{chunk_len, table_agent};
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "q-learning";
pub const DESCRIPTION: &str =
    "Tabular Q-learning (Sutton & Barto 6.5); n_step > 1: tree backup of the greedy policy";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub n_step: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 1.0,
            n_step: 1,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        check::count("n_step", self.n_step, 10_000, "steps in the n-step window")
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
        table_agent(&rc.common.env, probe).map(|_| ())
    }
}

/// What a checkpoint stores besides the agent's table.
#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    q: Vec<f64>,
    visits: Vec<u64>,
    epsilon: f64,
    window: Window,
}

/// Updates the oldest window entry towards its tree-backup return; `boot` is the value after
/// the window's last step (0 if it terminated). Returns |TD error|.
#[allow(clippy::too_many_arguments)]
#[inline]
fn update_oldest(
    q: &mut [f64],
    visits: &[u64],
    window: &Window,
    boot: f64,
    n: usize,
    gamma: f64,
    alpha: f64,
) -> f64 {
    let entries = &window.entries;
    let mut g = boot;
    for i in (0..entries.len()).rev() {
        if i + 1 < entries.len() {
            // The step after i: follow it if its action was greedy, else back up max Q.
            let next = entries[i + 1];
            let row = &q[next.state * n..(next.state + 1) * n];
            let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if row[next.action] < best {
                g = best;
            }
        }
        g = entries[i].reward + gamma * g;
    }
    let e = entries[0];
    let i = e.state * n + e.action;
    let step = if alpha > 0.0 {
        alpha
    } else {
        1.0 / visits[i].max(1) as f64
    };
    let td = g - q[i];
    q[i] += step * td;
    td.abs()
}

/// Runs Q-learning.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let env_id = &rc.common.env;
    let agent = table_agent(env_id, &*rc.common.make_env()?)?;
    let mut runner = Runner::make(&rc.common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let tab = &rc.tab;
    let mut explorer = Explorer::new(tab, n);
    let mut q = vec![tab.q_init; n_s * n];
    let mut visits = vec![0u64; n_s * n];
    let mut window = Window::new(c.n_step);
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("Q table", saved.q.len(), q.len())?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        runner.restore(&saved.runner)?;
        (q, visits, window) = (saved.q, saved.visits, saved.window);
        window.n = c.n_step;
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |q: &[f64], visits: &[u64], runner: &Runner, eps: f64, window: &Window| {
        let state = State {
            runner: runner.save(),
            q: q.to_vec(),
            visits: visits.to_vec(),
            epsilon: eps,
            window: window.clone(),
        };
        CheckpointParts {
            params: agent_params(q, n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let (gamma, alpha) = (c.gamma, tab.alpha);
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let chunk = chunk_len(&session);
            let (mut steps, mut td_sum) = (0u64, 0.0);
            while steps < chunk {
                let s = runner.state;
                let a = explorer.choose(
                    &q[s * n..(s + 1) * n],
                    &visits[s * n..(s + 1) * n],
                    &mut runner.rng,
                );
                let t = runner.step(a, &monitor)?;
                visits[s * n + a] += 1;
                steps += 1;
                // ALGO LOGIC: the (n-step) Q-learning update.
                let boot = if t.terminated {
                    0.0
                } else {
                    q[t.next * n..(t.next + 1) * n]
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max)
                };
                if c.n_step == 1 {
                    let i = s * n + a;
                    let step = if alpha > 0.0 {
                        alpha
                    } else {
                        1.0 / visits[i] as f64
                    };
                    let td = t.reward + gamma * boot - q[i];
                    q[i] += step * td;
                    td_sum += td.abs();
                } else {
                    window.push(s, a, t.reward);
                    if window.full() {
                        td_sum += update_oldest(&mut q, &visits, &window, boot, n, gamma, alpha);
                        window.pop();
                    }
                    if t.done() {
                        while !window.is_empty() {
                            td_sum +=
                                update_oldest(&mut q, &visits, &window, boot, n, gamma, alpha);
                            window.pop();
                        }
                    }
                }
                if t.done() {
                    explorer.end_episode();
                    break;
                }
            }
            let metrics = [
                Metric::mean("td_error", td_sum / steps.max(1) as f64),
                Metric::last("epsilon", explorer.epsilon),
            ];
            session.after_update(steps, &metrics, &mut || {
                parts(&q, &visits, &runner, explorer.epsilon, &window)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&q, &visits, &runner, explorer.epsilon, &window)
    })?;
    Values::from_q(&q, n, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}
