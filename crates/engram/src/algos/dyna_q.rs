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
use crate::runtime::{Session, StopReason};
use crate::tabular::control::{self, Ctx, TdControl};
use crate::tabular::runner::Transition;
use crate::tabular::table_agent;
use crate::tabular::values::check_len;
use engram_env::Env;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// What a checkpoint stores of the method.
#[derive(Serialize, Deserialize)]
struct State {
    q: Vec<f64>,
    model: Vec<Modelled>,
    /// Pairs in the model, in the order they entered it (planning draws from these).
    known: Vec<usize>,
    time: u64,
}

struct DynaQ {
    q: Vec<f64>,
    model: Vec<Modelled>,
    known: Vec<usize>,
    /// Real steps taken.
    time: u64,
    n_states: usize,
    c: Config,
}

impl DynaQ {
    /// One Q-learning update of pair `i` from a real or simulated step.
    #[inline]
    fn q_update(&mut self, ctx: &Ctx, i: usize, reward: f64, next: usize, terminated: bool) -> f64 {
        let boot = if terminated {
            0.0
        } else {
            self.q[ctx.row(next)]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
        };
        ctx.update(&mut self.q, i, reward + self.c.gamma * boot)
    }
}

impl TdControl for DynaQ {
    type Saved = State;

    #[inline]
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize {
        ctx.explore(&self.q, s)
    }

    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64) {
        let (s, n, kappa) = (t.state, ctx.n_actions, self.c.kappa);
        let i = s * n + t.action;
        self.time += 1;
        // ALGO LOGIC: (a) direct RL, (b) model learning, (c) planning.
        *td_sum += self.q_update(ctx, i, t.reward, t.next, t.terminated);
        if kappa > 0.0 && !(0..n).any(|b| self.model[s * n + b].known) {
            // Dyna-Q+: untried actions of a newly visited state lead back to it.
            for b in 0..n {
                self.model[s * n + b] = Modelled {
                    known: true,
                    reward: 0.0,
                    next: s,
                    terminated: false,
                    last_tried: 0,
                };
                self.known.push(s * n + b);
            }
        }
        if !self.model[i].known {
            self.known.push(i);
        }
        self.model[i] = Modelled {
            known: true,
            reward: t.reward,
            next: t.next,
            terminated: t.terminated,
            last_tried: self.time,
        };
        for _ in 0..self.c.planning_steps {
            let j = self.known[ctx.rng.gen_range(0..self.known.len())];
            let m = self.model[j];
            let bonus = if kappa > 0.0 {
                kappa * ((self.time - m.last_tried) as f64).sqrt()
            } else {
                0.0
            };
            self.q_update(ctx, j, m.reward + bonus, m.next, m.terminated);
        }
    }

    fn save(&self) -> State {
        State {
            q: self.q.clone(),
            model: self.model.clone(),
            known: self.known.clone(),
            time: self.time,
        }
    }

    fn restore(&mut self, saved: State) -> Result<(), TrainError> {
        check_len("Q table", saved.q.len(), self.q.len())?;
        check_len("model", saved.model.len(), self.model.len())?;
        if saved.known.iter().any(|&i| i >= self.model.len())
            || saved.model.iter().any(|m| m.next >= self.n_states)
        {
            return Err(TrainError::Usage(
                "the checkpoint's model names states outside this environment".into(),
            ));
        }
        (self.q, self.model, self.known, self.time) =
            (saved.q, saved.model, saved.known, saved.time);
        Ok(())
    }

    fn played(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(&self.q)
    }
}

/// Runs Dyna-Q.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    control::run(session, &rc.common, &rc.tab, |n_s, n| DynaQ {
        q: vec![rc.tab.q_init; n_s * n],
        model: vec![Modelled::default(); n_s * n],
        known: Vec::new(),
        time: 0,
        n_states: n_s,
        c: c.clone(),
    })
}
