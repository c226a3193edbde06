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
//! Each env step is one update (the loop: [`crate::tabular::control`]).

use super::RunConfig;
use crate::agent::Act;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::{Session, StopReason};
use crate::tabular::control::{self, Ctx, TdControl};
use crate::tabular::explore::max_value;
use crate::tabular::nstep::Window;
use crate::tabular::runner::Transition;
use crate::tabular::table_agent;
use crate::tabular::values::check_len;
use engram_env::Env;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// What a checkpoint stores of the method.
#[derive(Serialize, Deserialize)]
struct State {
    q: Vec<f64>,
    window: Window,
}

/// Updates the oldest window entry towards its tree-backup return; `boot` is the value after
/// the window's last step (0 if it terminated). Returns |TD error|.
#[inline]
fn update_oldest(q: &mut [f64], window: &Window, boot: f64, gamma: f64, ctx: &Ctx) -> f64 {
    let n = ctx.n_actions;
    let entries = &window.entries;
    let mut g = boot;
    for i in (0..entries.len()).rev() {
        if i + 1 < entries.len() {
            // The step after i: follow it if its action was greedy, else back up max Q.
            let next = entries[i + 1];
            let row = &q[ctx.row(next.state)];
            let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if row[next.action] < best {
                g = best;
            }
        }
        g = entries[i].reward + gamma * g;
    }
    let e = entries[0];
    ctx.update(q, e.state * n + e.action, g)
}

struct QLearning {
    q: Vec<f64>,
    window: Window,
    gamma: f64,
}

impl TdControl for QLearning {
    type Saved = State;

    #[inline]
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize {
        ctx.explore(&self.q, s)
    }

    #[inline]
    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64) {
        // ALGO LOGIC: the (n-step) Q-learning update.
        let boot = if t.terminated {
            0.0
        } else {
            max_value(&self.q[ctx.row(t.next)])
        };
        if self.window.n == 1 {
            let i = t.state * ctx.n_actions + t.action;
            *td_sum += ctx.update(&mut self.q, i, t.reward + self.gamma * boot);
        } else {
            let (q, gamma) = (&mut self.q, self.gamma);
            self.window
                .advance(t, td_sum, |w| update_oldest(q, w, boot, gamma, ctx));
        }
    }

    fn save(&self) -> State {
        State {
            q: self.q.clone(),
            window: self.window.clone(),
        }
    }

    fn restore(&mut self, saved: State) -> Result<(), TrainError> {
        check_len("Q table", saved.q.len(), self.q.len())?;
        self.q = saved.q;
        self.window.restore(saved.window);
        Ok(())
    }

    fn played(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(&self.q)
    }
}

/// Runs Q-learning.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    control::run(session, &rc.common, &rc.tab, |n_s, n| QLearning {
        q: vec![rc.tab.q_init; n_s * n],
        window: Window::new(c.n_step),
        gamma: c.gamma,
    })
}
