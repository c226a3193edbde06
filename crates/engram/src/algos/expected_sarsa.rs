//! Expected Sarsa (van Seijen et al. 2009; Sutton & Barto 6.6): the target averages the next
//! state's action values under the exploration policy, `R + gamma sum_a pi(a|S') Q(S', a)`.
//! With `n_step` > 1, n-step Expected Sarsa (7.2): `n` rewards, then the expected value of
//! `S_{t+n}`. The policy is the exploration strategy's (epsilon-greedy: `epsilon / |A|` plus
//! the greedy share; Boltzmann: the softmax; UCB counts as greedy).

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

pub const NAME: &str = "expected-sarsa";
pub const DESCRIPTION: &str =
    "Tabular Expected Sarsa (Sutton & Barto 6.6) and n-step Expected Sarsa (7.2)";
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
}

/// Runs Expected Sarsa.
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
    let mut probs = vec![0.0; n];
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
                // ALGO LOGIC: the expected value of S' under the policy, then the update.
                let boot = if t.terminated {
                    0.0
                } else {
                    let row = t.next * n..(t.next + 1) * n;
                    explorer.probabilities(&q[row.clone()], &visits[row.clone()], &mut probs);
                    probs.iter().zip(&q[row]).map(|(p, v)| p * v).sum()
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
