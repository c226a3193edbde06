//! Sarsa (Rummery & Niranjan 1994; Sutton & Barto 6.4), on-policy TD control:
//! `Q(S, A) += alpha [R + gamma Q(S', A') - Q(S, A)]`, where `A'` is the action the
//! exploration strategy then takes in `S'`. With `n_step` > 1, n-step Sarsa (7.2): the target
//! is the next `n` rewards discounted plus `gamma^n Q(S_{t+n}, A_{t+n})`; the window is
//! flushed with the rewards left when the episode ends. A truncated episode (time limit)
//! bootstraps from its last state with a freshly chosen action.

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

pub const NAME: &str = "sarsa";
pub const DESCRIPTION: &str = "Tabular Sarsa (Sutton & Barto 6.4) and n-step Sarsa (7.2)";
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
    const EXAMPLE_ENV: &'static str = "CliffWalking-v1";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        table_agent(&rc.common.env, probe).map(|_| ())
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    q: Vec<f64>,
    visits: Vec<u64>,
    epsilon: f64,
    window: Window,
    /// The action already chosen for the current state (Sarsa's A').
    next_action: Option<usize>,
}

/// Runs Sarsa.
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
    let mut next_action: Option<usize> = None;
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("Q table", saved.q.len(), q.len())?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        runner.restore(&saved.runner)?;
        (q, visits, window, next_action) = (saved.q, saved.visits, saved.window, saved.next_action);
        window.n = c.n_step;
        next_action = next_action.filter(|&a| a < n);
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |q: &[f64],
                 visits: &[u64],
                 runner: &Runner,
                 eps: f64,
                 window: &Window,
                 next: Option<usize>| {
        let state = State {
            runner: runner.save(),
            q: q.to_vec(),
            visits: visits.to_vec(),
            epsilon: eps,
            window: window.clone(),
            next_action: next,
        };
        CheckpointParts {
            params: agent_params(q, n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let (gamma, alpha) = (c.gamma, tab.alpha);
    // The (sample-average or constant) step of the oldest window entry towards `target`.
    let update = |q: &mut [f64], visits: &[u64], s: usize, a: usize, target: f64| {
        let i = s * n + a;
        let step = if alpha > 0.0 {
            alpha
        } else {
            1.0 / visits[i].max(1) as f64
        };
        let td = target - q[i];
        q[i] += step * td;
        td.abs()
    };
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let chunk = chunk_len(&session);
            let (mut steps, mut td_sum) = (0u64, 0.0);
            while steps < chunk {
                let s = runner.state;
                let a = match next_action.take() {
                    Some(a) => a,
                    None => explorer.choose(
                        &q[s * n..(s + 1) * n],
                        &visits[s * n..(s + 1) * n],
                        &mut runner.rng,
                    ),
                };
                let t = runner.step(a, &monitor)?;
                visits[s * n + a] += 1;
                steps += 1;
                // ALGO LOGIC: choose A' in S', then the n-step Sarsa update.
                let boot = if t.terminated {
                    0.0
                } else {
                    let row = t.next * n..(t.next + 1) * n;
                    let a2 = explorer.choose(&q[row.clone()], &visits[row], &mut runner.rng);
                    if !t.done() {
                        next_action = Some(a2);
                    }
                    q[t.next * n + a2]
                };
                window.push(s, a, t.reward);
                if window.full() {
                    if let Some(e) = window.oldest() {
                        td_sum += update(
                            &mut q,
                            &visits,
                            e.state,
                            e.action,
                            window.n_step_return(gamma, boot),
                        );
                    }
                    window.pop();
                }
                if t.done() {
                    while let Some(e) = window.oldest() {
                        td_sum += update(
                            &mut q,
                            &visits,
                            e.state,
                            e.action,
                            window.n_step_return(gamma, boot),
                        );
                        window.pop();
                    }
                    explorer.end_episode();
                    break;
                }
            }
            let metrics = [
                Metric::mean("td_error", td_sum / steps.max(1) as f64),
                Metric::last("epsilon", explorer.epsilon),
            ];
            session.after_update(steps, &metrics, &mut || {
                parts(&q, &visits, &runner, explorer.epsilon, &window, next_action)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&q, &visits, &runner, explorer.epsilon, &window, next_action)
    })?;
    Values::from_q(&q, n, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}
