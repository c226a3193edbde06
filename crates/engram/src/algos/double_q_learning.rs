//! Double Q-learning (van Hasselt 2010; Sutton & Barto 6.7): two tables; each step a fair
//! coin picks one to update, with the other evaluating the action the first finds best:
//! `Q1(S, A) += alpha [R + gamma Q2(S', argmax_a Q1(S', a)) - Q1(S, A)]` (or the mirror).
//! Actions are chosen from `Q1 + Q2`; the agent plays the greedy action of their mean. Removes
//! Q-learning's maximisation bias (Figure 6.5).

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{Session, StopReason};
use crate::tabular::control::{self, Ctx, TdControl};
use crate::tabular::explore::argmax_random_tie;
use crate::tabular::runner::Transition;
use crate::tabular::table_agent;
use crate::tabular::values::check_len;
use engram_env::Env;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// What a checkpoint stores of the method.
#[derive(Serialize, Deserialize)]
struct State {
    q1: Vec<f64>,
    q2: Vec<f64>,
}

struct DoubleQ {
    q1: Vec<f64>,
    q2: Vec<f64>,
    gamma: f64,
    /// `Q1 + Q2` in the current state (scratch).
    sum: Vec<f64>,
}

impl TdControl for DoubleQ {
    type Saved = State;

    #[inline]
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize {
        let row = ctx.row(s);
        for (x, (a, b)) in self
            .sum
            .iter_mut()
            .zip(self.q1[row.clone()].iter().zip(&self.q2[row.clone()]))
        {
            *x = a + b;
        }
        ctx.explorer.choose(&self.sum, &ctx.visits[row], ctx.rng)
    }

    #[inline]
    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64) {
        // ALGO LOGIC: a coin picks the table to update; the other one evaluates.
        let (update, evaluate) = if ctx.rng.gen::<bool>() {
            (&mut self.q1, &self.q2)
        } else {
            (&mut self.q2, &self.q1)
        };
        let boot = if t.terminated {
            0.0
        } else {
            let best = argmax_random_tie(&update[ctx.row(t.next)], ctx.rng);
            evaluate[t.next * ctx.n_actions + best]
        };
        let i = t.state * ctx.n_actions + t.action;
        *td_sum += ctx.update(update, i, t.reward + self.gamma * boot);
    }

    fn save(&self) -> State {
        State {
            q1: self.q1.clone(),
            q2: self.q2.clone(),
        }
    }

    fn restore(&mut self, saved: State) -> Result<(), TrainError> {
        check_len("Q1 table", saved.q1.len(), self.q1.len())?;
        check_len("Q2 table", saved.q2.len(), self.q2.len())?;
        (self.q1, self.q2) = (saved.q1, saved.q2);
        Ok(())
    }

    fn played(&self) -> Cow<'_, [f64]> {
        Cow::Owned(
            self.q1
                .iter()
                .zip(&self.q2)
                .map(|(a, b)| 0.5 * (a + b))
                .collect(),
        )
    }
}

/// Runs Double Q-learning.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    control::run(session, &rc.common, &rc.tab, |n_s, n| DoubleQ {
        q1: vec![rc.tab.q_init; n_s * n],
        q2: vec![rc.tab.q_init; n_s * n],
        gamma: c.gamma,
        sum: vec![0.0; n],
    })
}
