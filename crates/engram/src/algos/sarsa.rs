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
use crate::runtime::{Session, StopReason};
use crate::tabular::control::{self, Ctx, TdControl};
use crate::tabular::nstep::Window;
use crate::tabular::runner::Transition;
use crate::tabular::table_agent;
use crate::tabular::values::check_len;
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// What a checkpoint stores of the method.
#[derive(Serialize, Deserialize)]
struct State {
    q: Vec<f64>,
    window: Window,
    /// The action already chosen for the current state (Sarsa's A').
    next_action: Option<usize>,
}

struct Sarsa {
    q: Vec<f64>,
    window: Window,
    next_action: Option<usize>,
    n_actions: usize,
    gamma: f64,
}

impl TdControl for Sarsa {
    type Saved = State;

    #[inline]
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize {
        match self.next_action.take() {
            Some(a) => a,
            None => ctx.explore(&self.q, s),
        }
    }

    #[inline]
    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64) {
        // ALGO LOGIC: choose A' in S', then the n-step Sarsa update.
        let boot = if t.terminated {
            0.0
        } else {
            let a2 = ctx.explore(&self.q, t.next);
            if !t.done() {
                self.next_action = Some(a2);
            }
            self.q[t.next * ctx.n_actions + a2]
        };
        let (q, gamma, n) = (&mut self.q, self.gamma, ctx.n_actions);
        self.window.advance(t, td_sum, |w| match w.oldest() {
            Some(e) => ctx.update(q, e.state * n + e.action, w.n_step_return(gamma, boot)),
            None => 0.0,
        });
    }

    fn save(&self) -> State {
        State {
            q: self.q.clone(),
            window: self.window.clone(),
            next_action: self.next_action,
        }
    }

    fn restore(&mut self, saved: State) -> Result<(), TrainError> {
        check_len("Q table", saved.q.len(), self.q.len())?;
        self.q = saved.q;
        self.window.restore(saved.window);
        self.next_action = saved.next_action.filter(|&a| a < self.n_actions);
        Ok(())
    }

    fn played(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(&self.q)
    }
}

/// Runs Sarsa.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    control::run(session, &rc.common, &rc.tab, |n_s, n| Sarsa {
        q: vec![rc.tab.q_init; n_s * n],
        window: Window::new(c.n_step),
        next_action: None,
        n_actions: n,
        gamma: c.gamma,
    })
}
