//! The loop TD control shares (Sutton & Barto chapters 6-8): act in the runner's state,
//! step, count the pair, learn; the chunked accounts to the session, the checkpoint with
//! exact resume (runner, visit counts, epsilon and the method's own state), and
//! `values.json`. Each method gives only its action choice and its update ([`TdControl`]);
//! the loop is generic over it, so the update inlines into the step loop.

use crate::config::{CommonConfig, TabularConfig};
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::explore::Explorer;
use crate::tabular::runner::{Runner, RunnerState, Transition};
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use crate::tabular::{chunk_len, table_agent};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;

/// What a method sees of the run at each step.
pub struct Ctx<'a> {
    pub explorer: &'a mut Explorer,
    /// The runner's RNG: exploration and the method's own draws (coins, planning).
    pub rng: &'a mut ChaCha8Rng,
    /// Visits of each state-action pair; in [`TdControl::learn`] the step's pair is counted.
    pub visits: &'a [u64],
    pub n_actions: usize,
    /// The step size; 0: sample averages (1 / visits of the pair).
    pub alpha: f64,
}

impl<'a> Ctx<'a> {
    #[inline(always)]
    fn new(
        explorer: &'a mut Explorer,
        rng: &'a mut ChaCha8Rng,
        visits: &'a [u64],
        n_actions: usize,
        alpha: f64,
    ) -> Ctx<'a> {
        Ctx {
            explorer,
            rng,
            visits,
            n_actions,
            alpha,
        }
    }

    /// The indices of state `s`'s row in a state-action table.
    #[inline]
    pub fn row(&self, s: usize) -> Range<usize> {
        s * self.n_actions..(s + 1) * self.n_actions
    }

    /// The exploration strategy's action in state `s` from the action values `q` (inlined
    /// into the step loop: a call here was 3% of a Q-learning step).
    #[inline(always)]
    pub fn explore(&mut self, q: &[f64], s: usize) -> usize {
        let row = self.row(s);
        self.explorer
            .choose(&q[row.clone()], &self.visits[row], self.rng)
    }

    /// `q[i] += alpha (target - q[i])`; returns the |TD error|.
    #[inline]
    pub fn update(&self, q: &mut [f64], i: usize, target: f64) -> f64 {
        step_toward(q, i, target, self.alpha, self.visits[i])
    }
}

/// `table[i] += step (target - table[i])` with the constant step `alpha`, or with 0 the
/// sample average's `1 / visits` (`visits` of entry `i`, this visit counted); returns the
/// |TD error|. Every tabular TD update takes this step.
#[inline]
pub fn step_toward(table: &mut [f64], i: usize, target: f64, alpha: f64, visits: u64) -> f64 {
    let step = if alpha > 0.0 {
        alpha
    } else {
        1.0 / visits.max(1) as f64
    };
    let td = target - table[i];
    table[i] += step * td;
    td.abs()
}

/// A TD-control method: its tables and its update rule.
pub trait TdControl {
    /// What a checkpoint stores of the method besides the runner, visits and epsilon.
    type Saved: Serialize + DeserializeOwned;
    /// The action taken in state `s`.
    fn act(&mut self, s: usize, ctx: &mut Ctx) -> usize;
    /// Learns from one real step, adding each update's |TD error| to `td_sum`.
    fn learn(&mut self, t: &Transition, ctx: &mut Ctx, td_sum: &mut f64);
    fn save(&self) -> Self::Saved;
    /// Takes a checkpoint's state back, refusing one of another environment.
    fn restore(&mut self, saved: Self::Saved) -> Result<(), TrainError>;
    /// The action values the agent plays and `values.json` holds.
    fn played(&self) -> Cow<'_, [f64]>;
}

/// A checkpoint's tabular state.
#[derive(Serialize, Deserialize)]
struct Saved<T> {
    runner: RunnerState,
    visits: Vec<u64>,
    epsilon: f64,
    #[serde(flatten)]
    method: T,
}

/// Runs the method `make(n_states, n_actions)` builds on the configured environment, one
/// update per env step; the session hears of them every [`crate::tabular::CHUNK`] steps and
/// at every episode's end.
pub fn run<M: TdControl>(
    mut session: Session,
    common: &CommonConfig,
    tab: &TabularConfig,
    make: impl FnOnce(usize, usize) -> M,
) -> Result<StopReason, TrainError> {
    let agent = table_agent(&common.env, &*common.make_env()?)?;
    let mut runner = Runner::make(common)?;
    let (n_s, n) = (runner.n_states(), runner.n_actions);
    let mut explorer = Explorer::new(tab, n);
    let mut method = make(n_s, n);
    let mut visits = vec![0u64; n_s * n];
    if let Some(saved) = saved_state::<Saved<M::Saved>>(&session)? {
        method.restore(saved.method)?;
        check_len("visit counts", saved.visits.len(), visits.len())?;
        runner.restore(&saved.runner)?;
        visits = saved.visits;
        explorer.epsilon = saved.epsilon;
    }
    session.start(agent, true)?;
    let parts = |method: &M, visits: &[u64], runner: &Runner, epsilon: f64| {
        let state = Saved {
            runner: runner.save(),
            visits: visits.to_vec(),
            epsilon,
            method: method.save(),
        };
        CheckpointParts {
            params: agent_params(&method.played(), n),
            collectors: vec![serde_json::to_value(state).ok()],
            ..CheckpointParts::default()
        }
    };
    let monitor = session.monitor.clone();
    let alpha = tab.alpha;
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let chunk = chunk_len(&session);
            let (mut steps, mut td_sum) = (0u64, 0.0);
            while steps < chunk {
                let s = runner.state;
                // Built twice: the pair's visit is counted between acting and learning.
                let mut ctx = Ctx::new(&mut explorer, &mut runner.rng, &visits, n, alpha);
                let a = method.act(s, &mut ctx);
                let t = runner.step(a, &monitor)?;
                visits[s * n + a] += 1;
                steps += 1;
                let mut ctx = Ctx::new(&mut explorer, &mut runner.rng, &visits, n, alpha);
                method.learn(&t, &mut ctx, &mut td_sum);
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
                parts(&method, &visits, &runner, explorer.epsilon)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || {
        parts(&method, &visits, &runner, explorer.epsilon)
    })?;
    Values::from_q(&method.played(), n, runner.action_start).write(&session.run_dir)?;
    Ok(stop)
}
