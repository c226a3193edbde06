//! Double Q-learning (van Hasselt 2010; Sutton & Barto 6.7): two tables; each step a fair
//! coin picks one to update, with the other evaluating the action the first finds best:
//! `Q1(S, A) += alpha [R + gamma Q2(S', argmax_a Q1(S', a)) - Q1(S, A)]` (or the mirror).
//! Actions are chosen from `Q1 + Q2`; the agent plays the greedy action of their mean. Removes
//! Q-learning's maximisation bias (Figure 6.5).

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::explore::{argmax_random_tie, Explorer};
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use crate::tabular::{chunk_len, table_agent};
use engram_env::Env;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "double-q-learning";
pub const DESCRIPTION: &str =
    "Tabular Double Q-learning (Sutton & Barto 6.7): two tables, no maximisation bias";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config { gamma: 1.0 }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)
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

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    q1: Vec<f64>,
    q2: Vec<f64>,
    visits: Vec<u64>,
    epsilon: f64,
}

fn mean(q1: &[f64], q2: &[f64]) -> Vec<f64> {
    q1.iter().zip(q2).map(|(a, b)| 0.5 * (a + b)).collect()
}

/// Runs Double Q-learning.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let env_id = &rc.common.env;
    let agent = table_agent(env_id, &*rc.common.make_env()?)?;
    let mut runner = Runner::make(&rc.common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let tab = &rc.tab;
    let mut explorer = Explorer::new(tab, n);
    let mut q1 = vec![tab.q_init; n_s * n];
    let mut q2 = q1.clone();
    let mut visits = vec![0u64; n_s * n];
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("Q1 table", saved.q1.len(), q1.len())?;
        check_len("Q2 table", saved.q2.len(), q2.len())?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        runner.restore(&saved.runner)?;
        (q1, q2, visits) = (saved.q1, saved.q2, saved.visits);
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |q1: &[f64], q2: &[f64], visits: &[u64], runner: &Runner, eps: f64| {
        let state = State {
            runner: runner.save(),
            q1: q1.to_vec(),
            q2: q2.to_vec(),
            visits: visits.to_vec(),
            epsilon: eps,
        };
        CheckpointParts {
            params: agent_params(&mean(q1, q2), n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let (gamma, alpha) = (c.gamma, tab.alpha);
    let mut sum = vec![0.0; n];
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let chunk = chunk_len(&session);
            let (mut steps, mut td_sum) = (0u64, 0.0);
            while steps < chunk {
                let s = runner.state;
                let row = s * n..(s + 1) * n;
                for (x, (a, b)) in sum
                    .iter_mut()
                    .zip(q1[row.clone()].iter().zip(&q2[row.clone()]))
                {
                    *x = a + b;
                }
                let a = explorer.choose(&sum, &visits[row], &mut runner.rng);
                let t = runner.step(a, &monitor)?;
                let i = s * n + a;
                visits[i] += 1;
                steps += 1;
                // ALGO LOGIC: a coin picks the table to update; the other one evaluates.
                let (update, evaluate) = if runner.rng.gen::<bool>() {
                    (&mut q1, &q2)
                } else {
                    (&mut q2, &q1)
                };
                let boot = if t.terminated {
                    0.0
                } else {
                    let next = t.next * n..(t.next + 1) * n;
                    let best = argmax_random_tie(&update[next.clone()], &mut runner.rng);
                    evaluate[t.next * n + best]
                };
                let step = if alpha > 0.0 {
                    alpha
                } else {
                    1.0 / visits[i] as f64
                };
                let td = t.reward + gamma * boot - update[i];
                update[i] += step * td;
                td_sum += td.abs();
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
                parts(&q1, &q2, &visits, &runner, explorer.epsilon)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&q1, &q2, &visits, &runner, explorer.epsilon)
    })?;
    Values::from_q(&mean(&q1, &q2), n, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}
