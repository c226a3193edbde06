//! Expected Sarsa (van Seijen et al. 2009; Sutton & Barto 6.6): the target averages the next
//! state's action values under the exploration policy, `R + gamma sum_a pi(a|S') Q(S', a)`.
//! With `n_step` > 1, n-step Expected Sarsa (7.2): `n` rewards, then the expected value of
//! `S_{t+n}`. The policy is the exploration strategy's (epsilon-greedy: `epsilon / |A|` plus
//! the greedy share; Boltzmann: the softmax; UCB counts as greedy).

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

/// What a checkpoint stores of the method.
#[derive(Serialize, Deserialize)]
struct State {
    q: Vec<f64>,
    window: Window,
}

struct ExpectedSarsa {
    q: Vec<f64>,
    window: Window,
    gamma: f64,
    /// The policy's probabilities in S' (scratch).
    probs: Vec<f64>,
}

impl TdControl for ExpectedSarsa {
    type Saved = State;

    #[inline]
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize {
        ctx.explore(&self.q, s)
    }

    #[inline]
    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64) {
        // ALGO LOGIC: the expected value of S' under the policy, then the update.
        let boot = if t.terminated {
            0.0
        } else {
            let row = ctx.row(t.next);
            ctx.explorer.probabilities(
                &self.q[row.clone()],
                &ctx.visits[row.clone()],
                &mut self.probs,
            );
            self.probs
                .iter()
                .zip(&self.q[row])
                .map(|(p, v)| p * v)
                .sum()
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

/// Runs Expected Sarsa.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    control::run(session, &rc.common, &rc.tab, |n_s, n| ExpectedSarsa {
        q: vec![rc.tab.q_init; n_s * n],
        window: Window::new(c.n_step),
        gamma: c.gamma,
        probs: vec![0.0; n],
    })
}
