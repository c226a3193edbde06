//! Dyna-Q and Dyna-Q+ (Sutton 1990; Sutton & Barto 8.2-8.3): Q-learning from each real step,
//! plus a learned deterministic model (the last reward and next state seen for each
//! state-action pair) from which `planning_steps` simulated Q-learning updates follow each
//! real step, on pairs drawn uniformly from those already tried.
//!
//! Dyna-Q+ (`kappa` > 0) adds the exploration bonus `kappa * sqrt(tau)` to a simulated reward,
//! `tau` the real steps since the pair was last tried, and, as the book's footnote has it,
//! lets planning consider actions never tried from a visited state, modelled as leading back
//! to that state with reward 0.

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::explore::Explorer;
use crate::tabular::runner::{Runner, RunnerState};
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use crate::tabular::{chunk_len, table_agent};
use engram_env::Env;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "dyna-q";
pub const DESCRIPTION: &str =
    "Dyna-Q (Sutton & Barto 8.2): Q-learning plus planning on a learned model; kappa > 0: Dyna-Q+";
pub const ACTOR_CRITIC: bool = false;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gamma: f64,
    pub planning_steps: usize,
    pub kappa: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gamma: 0.95,
            planning_steps: 5,
            kappa: 0.0,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::unit("gamma", self.gamma, false)?;
        if self.planning_steps > 100_000 {
            return Err(invalid(
                "planning_steps",
                format!(
                    "must be at most 100000 per real step, got {}",
                    self.planning_steps
                ),
            ));
        }
        check::non_negative("kappa", self.kappa)
    }
}

impl super::Algorithm for Config {
    const NETWORK: bool = false;
    const EXPLORES: bool = true;
    const EXAMPLE_ENV: &'static str = "DynaMaze-v0";

    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(table_agent(&rc.common.env, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        table_agent(&rc.common.env, probe).map(|_| ())
    }
}

/// The model's entry for one state-action pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Modelled {
    known: bool,
    reward: f64,
    next: usize,
    terminated: bool,
    /// The real step at which the pair was last tried.
    last_tried: u64,
}

#[derive(Serialize, Deserialize)]
struct State {
    runner: RunnerState,
    q: Vec<f64>,
    visits: Vec<u64>,
    epsilon: f64,
    model: Vec<Modelled>,
    /// Pairs in the model, in the order they entered it (planning draws from these).
    known: Vec<usize>,
    time: u64,
}

/// Runs Dyna-Q.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let env_id = &rc.common.env;
    let agent = table_agent(env_id, &*rc.common.make_env()?)?;
    let mut runner = Runner::make(&rc.common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let tab = &rc.tab;
    let mut explorer = Explorer::new(tab, n);
    let mut q = vec![tab.q_init; n_s * n];
    let mut visits = vec![0u64; n_s * n];
    let mut model = vec![Modelled::default(); n_s * n];
    let mut known: Vec<usize> = Vec::new();
    let mut time = 0u64;
    if let Some(saved) = saved_state::<State>(&session)? {
        check_len("Q table", saved.q.len(), q.len())?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        check_len("model", saved.model.len(), model.len())?;
        if saved.known.iter().any(|&i| i >= model.len())
            || saved.model.iter().any(|m| m.next >= n_s)
        {
            return Err(TrainError::Usage(
                "the checkpoint's model names states outside this environment".into(),
            ));
        }
        runner.restore(&saved.runner)?;
        (q, visits, model, known, time) =
            (saved.q, saved.visits, saved.model, saved.known, saved.time);
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |q: &[f64],
                 visits: &[u64],
                 runner: &Runner,
                 eps: f64,
                 model: &[Modelled],
                 known: &[usize],
                 time: u64| {
        let state = State {
            runner: runner.save(),
            q: q.to_vec(),
            visits: visits.to_vec(),
            epsilon: eps,
            model: model.to_vec(),
            known: known.to_vec(),
            time,
        };
        CheckpointParts {
            params: agent_params(q, n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let (gamma, alpha) = (c.gamma, tab.alpha);
    let q_update =
        |q: &mut [f64], visits: &[u64], i: usize, reward: f64, next: usize, terminated: bool| {
            let boot = if terminated {
                0.0
            } else {
                q[next * n..(next + 1) * n]
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let step = if alpha > 0.0 {
                alpha
            } else {
                1.0 / visits[i].max(1) as f64
            };
            let td = reward + gamma * boot - q[i];
            q[i] += step * td;
            td.abs()
        };
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
                let i = s * n + a;
                visits[i] += 1;
                steps += 1;
                time += 1;
                // ALGO LOGIC: (a) direct RL, (b) model learning, (c) planning.
                td_sum += q_update(&mut q, &visits, i, t.reward, t.next, t.terminated);
                if c.kappa > 0.0 && !(0..n).any(|b| model[s * n + b].known) {
                    // Dyna-Q+: untried actions of a newly visited state lead back to it.
                    for b in 0..n {
                        model[s * n + b] = Modelled {
                            known: true,
                            reward: 0.0,
                            next: s,
                            terminated: false,
                            last_tried: 0,
                        };
                        known.push(s * n + b);
                    }
                }
                if !model[i].known {
                    known.push(i);
                }
                model[i] = Modelled {
                    known: true,
                    reward: t.reward,
                    next: t.next,
                    terminated: t.terminated,
                    last_tried: time,
                };
                for _ in 0..c.planning_steps {
                    let j = known[runner.rng.gen_range(0..known.len())];
                    let m = model[j];
                    let bonus = if c.kappa > 0.0 {
                        c.kappa * ((time - m.last_tried) as f64).sqrt()
                    } else {
                        0.0
                    };
                    q_update(&mut q, &visits, j, m.reward + bonus, m.next, m.terminated);
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
                parts(&q, &visits, &runner, explorer.epsilon, &model, &known, time)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&q, &visits, &runner, explorer.epsilon, &model, &known, time)
    })?;
    Values::from_q(&q, n, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}
