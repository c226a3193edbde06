//! R2D2 (Kapturowski et al. 2019, "Recurrent Experience Replay in Distributed Reinforcement
//! Learning") on one machine, and DRQN (Hausknecht & Stone 2015) as its special case: a
//! recurrent Q-network (encoder -> LSTM | GRU -> Q head, dueling by default) learning from
//! replayed sequences.
//!
//! Why its own id rather than `dqn --policy lstm`: replay, targets and acting all change with
//! memory (sequences instead of transitions, a carried state, burn-in), so one file read top to
//! bottom is clearer than branches through `dqn.rs`. `dqn --policy lstm` is refused with a
//! pointer here. DRQN's "bootstrapped random updates" are `--set stored_state=false --set
//! burn_in=0 --set prioritized=false --set n_step=1 --set value_rescaling=false`; `--policy
//! mlp` is the same agent without memory.
//!
//! The loop:
//! 1. each lockstep step, every environment's actor reads its observation with the state it
//!    carries (zeroed at episode starts), acts epsilon-greedily (uniformly at random until
//!    `learning_starts`), and the step goes into the sequence replay together with the state
//!    *before* it (`offpolicy::sequence_replay`: `sequence_length` steps, consecutive
//!    sequences overlapping by `sequence_overlap`, never crossing an episode's end, padded and
//!    masked). The target network is copied every `target_update_interval` env steps.
//! 2. every `train_freq` lockstep steps, `gradient_steps` gradient steps on `batch_size`
//!    sequences (prioritized by default, priority exponent `per_alpha` 0.9, importance
//!    exponent from `per_beta0` 0.6 annealed to 1). Each sequence starts from its stored state
//!    (`stored_state`; else zero, DRQN's), runs `burn_in` steps without gradient to refresh
//!    the state, and trains the remaining steps: n-step (`n_step`, 5) double-Q targets inside
//!    the sequence (a window that reaches the sequence's end bootstraps from there),
//!    optionally under value rescaling `h(x) = sign(x)(sqrt(|x| + 1) - 1) + 1e-3 x`, Huber loss
//!    averaged over the trained steps, importance-weighted. A sequence that starts at its
//!    episode's first step needs no burn-in (its stored state is exactly zero): all its steps
//!    train, so episodes shorter than `burn_in` are learned from too. The sequence's priority
//!    is `priority_eta * max |td| + (1 - priority_eta) * mean |td|` over its trained steps.
//!
//! Both networks run B sequences x T steps in one batched pass of engram-nn's LSTM/GRU
//! kernels (`QNetwork::forward_seq`); the burn-in is a separate pass whose tape is dropped,
//! so no gradient reaches it.
//!
//! Where engram differs from the paper: `sequence_length` includes the burn-in (the paper's
//! 80 + 40 is `sequence_length = 120, burn_in = 40`; the defaults 80 / 40 / overlap 40 make the
//! trained windows tile each episode once); one process with `n_envs` lockstep actors sharing
//! one epsilon schedule instead of 256 actors with fixed epsilons; Huber instead of the squared
//! loss; the target network on an env-step clock like `dqn`'s.
//!
//! # Checkpoints
//! Parameters, target parameters, Adam, the stepper, the counters and the actors' recurrent
//! states always; the sequence replay (its sequences and the ones being built, and the
//! priorities) with `save_replay_buffer`, which makes `--resume` exact. Without it the resumed
//! run refills the replay from empty before learning again.

use super::RunConfig;
use crate::agent::q_network::{argmax_rows, QNetwork, QPass};
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::offpolicy::prioritized::{PrioritizedSampler, PrioritizedState};
use crate::offpolicy::q_learning::{
    check_exploration, epsilon_greedy, epsilon_schedule, replay_tensors, restore_priorities,
    saved_replay_arrays, saved_state, TargetClock,
};
use crate::offpolicy::sequence_replay::{
    SequenceBatch, SequenceReplay, SequenceReplayState, MAX_LENGTH,
};
use crate::offpolicy::stepper::{Stepper, StepperState};
use crate::runtime::checkpoint::{load_params, param_tensors};
use crate::runtime::{
    CheckpointParts, LocalStore, Metric, ParamStore, Session, StopReason, Tensor,
};
use engram_nn::optim::{clip_grad_norm, Schedule};
use engram_nn::recurrent::RecurrentState;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "r2d2";
pub const DESCRIPTION: &str =
    "Recurrent DQN on replayed sequences (R2D2: stored state, burn-in, n-step double Q; DRQN as options)";
pub const ACTOR_CRITIC: bool = false;

/// The largest `batch_size` in sequences.
pub const MAX_BATCH: usize = 4096;

/// R2D2's options; names shared with `dqn` mean the same, except that `buffer_size` and
/// `batch_size` count sequences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub buffer_size: usize,
    pub learning_starts: u64,
    pub batch_size: usize,
    pub sequence_length: usize,
    /// -1: half of `sequence_length`.
    pub sequence_overlap: i64,
    pub burn_in: usize,
    pub stored_state: bool,
    pub gamma: f64,
    pub n_step: usize,
    pub value_rescaling: bool,
    pub train_freq: u64,
    pub gradient_steps: u64,
    pub target_update_interval: u64,
    pub exploration_fraction: f64,
    pub exploration_initial_eps: f64,
    pub exploration_final_eps: f64,
    pub double_q: bool,
    pub dueling: bool,
    pub prioritized: bool,
    pub per_alpha: f64,
    pub per_beta0: f64,
    pub per_eps: f64,
    pub priority_eta: f64,
    pub save_replay_buffer: bool,
}

impl Default for Config {
    /// The paper's numbers where one machine allows them (Table 2).
    fn default() -> Self {
        Config {
            n_envs: 1,
            buffer_size: 10_000,
            learning_starts: 2_000,
            batch_size: 32,
            sequence_length: 80,
            sequence_overlap: -1,
            burn_in: 40,
            stored_state: true,
            gamma: 0.997,
            n_step: 5,
            value_rescaling: true,
            train_freq: 16,
            gradient_steps: 1,
            target_update_interval: 2_500,
            exploration_fraction: 0.2,
            exploration_initial_eps: 1.0,
            exploration_final_eps: 0.01,
            double_q: true,
            dueling: true,
            prioritized: true,
            per_alpha: 0.9,
            per_beta0: 0.6,
            per_eps: 1e-6,
            priority_eta: 0.9,
            save_replay_buffer: false,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        super::check_n_envs(self.n_envs)?;
        check::at_least_one("buffer_size", self.buffer_size)?;
        check::count(
            "batch_size",
            self.batch_size,
            MAX_BATCH,
            "sequences per gradient step",
        )?;
        if self.sequence_length == 0 || self.sequence_length > MAX_LENGTH {
            return Err(invalid(
                "sequence_length",
                format!(
                    "must be between 1 and {MAX_LENGTH} steps (R2D2 uses 80), got {}",
                    self.sequence_length
                ),
            ));
        }
        if self.burn_in >= self.sequence_length {
            return Err(invalid(
                "burn_in",
                format!(
                    "must be below sequence_length ({}): the burn-in only warms the state up and \
                     the steps after it are trained; got {} (e.g. burn_in = {})",
                    self.sequence_length,
                    self.burn_in,
                    self.sequence_length / 2
                ),
            ));
        }
        if self.sequence_overlap < -1 || self.sequence_overlap >= self.sequence_length as i64 {
            return Err(invalid(
                "sequence_overlap",
                format!(
                    "must be from 0 to sequence_length - 1 ({}), or -1 for half of it; got {}",
                    self.sequence_length - 1,
                    self.sequence_overlap
                ),
            ));
        }
        if self.sequence_length.saturating_mul(self.batch_size) > super::MAX_ROLLOUT {
            return Err(invalid(
                "batch_size",
                format!(
                    "{} sequences of {} steps is more than the {} steps one batch may hold: \
                     lower batch_size or sequence_length",
                    self.batch_size,
                    self.sequence_length,
                    super::MAX_ROLLOUT
                ),
            ));
        }
        check::at_least_one("n_step", self.n_step)?;
        check::unit("gamma", self.gamma, false)?;
        check::at_least_one("train_freq", self.train_freq as usize)?;
        if self.gradient_steps > 10_000 {
            return Err(invalid(
                "gradient_steps",
                format!(
                    "must be at most 10000 per train_freq steps, got {}",
                    self.gradient_steps
                ),
            ));
        }
        if self.target_update_interval == 0 {
            return Err(invalid("target_update_interval", "must be at least 1"));
        }
        check_exploration(
            self.exploration_fraction,
            self.exploration_initial_eps,
            self.exploration_final_eps,
        )?;
        check::non_negative("per_alpha", self.per_alpha)?;
        check::unit("per_beta0", self.per_beta0, false)?;
        check::positive("per_eps", self.per_eps)?;
        check::unit("priority_eta", self.priority_eta, false)
    }

    /// `sequence_overlap` with -1 resolved.
    pub fn overlap(&self) -> usize {
        if self.sequence_overlap < 0 {
            self.sequence_length / 2
        } else {
            self.sequence_overlap as usize
        }
    }

    fn exploration(&self) -> Schedule {
        epsilon_schedule(
            self.exploration_initial_eps,
            self.exploration_final_eps,
            self.exploration_fraction,
        )
    }
}

fn q_network(
    rc: &RunConfig,
    c: &Config,
    probe: &dyn engram_env::Env,
) -> Result<Arc<QNetwork>, TrainError> {
    Ok(Arc::new(QNetwork::recurrent(
        probe.observation_space(),
        probe.action_space(),
        &rc.net,
        c.dueling,
    )?))
}

impl super::Algorithm for Config {
    const EXAMPLE_ENV: &'static str = "popgym-RepeatPreviousEasy-v0";

    fn agent(
        &self,
        rc: &RunConfig,
        probe: &dyn engram_env::Env,
    ) -> Result<Arc<dyn Act>, TrainError> {
        Ok(q_network(rc, self, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn engram_env::Env) -> Result<(), TrainError> {
        let q = q_network(rc, self, probe)?;
        SequenceReplay::check_size(
            self.buffer_size,
            self.n_envs,
            self.sequence_length,
            self.overlap(),
            q.obs_dim(),
            q.state_size(),
        )
        .map_err(TrainError::Usage)
    }
}

/// Value rescaling `h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps x` (Pohlen et al. 2018).
pub fn rescale(x: f32) -> f32 {
    const EPS: f32 = 1e-3;
    x.signum() * ((x.abs() + 1.0).sqrt() - 1.0) + EPS * x
}

/// The inverse of [`rescale`].
pub fn unrescale(x: f32) -> f32 {
    const EPS: f32 = 1e-3;
    let root = ((1.0 + 4.0 * EPS * (x.abs() + 1.0 + EPS)).sqrt() - 1.0) / (2.0 * EPS);
    x.signum() * (root * root - 1.0)
}

/// The forward passes and scratch of the gradient steps on one group of sequences.
pub struct Learner {
    /// The target network over all `length + 1` observations.
    target: QPass,
    /// The online network without burn-in (sequences that start an episode).
    whole: QPass,
    /// The online network's burn-in (no tape kept) and its trained part.
    burn: QPass,
    trained: QPass,
    d_q: Vec<f32>,
}

/// Sums over one gradient step's trained steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct LossSums {
    pub loss: f64,
    pub q: f64,
    pub abs_td: f64,
    pub steps: usize,
}

impl Learner {
    pub fn new(q: &QNetwork, c: &Config) -> Learner {
        let (l, b) = (c.sequence_length, c.batch_size);
        Learner {
            target: q.seq_pass(l + 1, b),
            whole: q.seq_pass(l + 1, b),
            burn: q.seq_pass(c.burn_in.max(1), b),
            trained: q.seq_pass(l + 1 - c.burn_in, b),
            d_q: vec![0.0; (l + 1) * b * q.n_actions()],
        }
    }

    /// One group's loss: the sequences of `batch` all start after `burn` steps of burn-in
    /// (0: every step trains). Adds to `grads` the gradient of the Huber loss summed over the
    /// trained steps times `scale` (1 / all trained steps of the gradient step), writes each
    /// row's priority into `priorities`, returns the sums.
    #[allow(clippy::too_many_arguments)]
    pub fn group(
        &mut self,
        q: &QNetwork,
        c: &Config,
        params: &[f32],
        target: &[f32],
        batch: &SequenceBatch,
        burn: usize,
        weights: &[f32],
        scale: f32,
        grads: &mut [f32],
        priorities: &mut [f32],
    ) -> LossSums {
        let (rows, l, n) = (batch.rows, batch.length, q.n_actions());
        let mut sums = LossSums::default();
        if rows == 0 {
            return sums;
        }
        let od = q.obs_dim();
        // Steps past the batch's longest sequence are padding in every row: the passes stop
        // at its last observation (an episode of 51 steps in sequences of 80 costs 52 steps).
        let longest = batch.lengths[..rows].iter().copied().max().unwrap_or(0);
        let l = longest.max(burn).min(l);
        let obs = &batch.obs[..(l + 1) * rows * od];
        let mut initial = q.initial_state(rows);
        if c.stored_state {
            let sd = q.state_size();
            for r in 0..rows {
                q.set_state_row(&mut initial, r, &batch.states[r * sd..(r + 1) * sd]);
            }
        }
        let mut state = initial.clone();
        q.forward_seq(target, obs, l + 1, None, &mut state, &mut self.target);
        // The online network: burn-in (its tape is never read back), then the trained part.
        let mut state = initial;
        let online = if burn > 0 {
            q.forward_seq(
                params,
                &obs[..burn * rows * od],
                burn,
                None,
                &mut state,
                &mut self.burn,
            );
            &mut self.trained
        } else {
            &mut self.whole
        };
        let trained_obs = &obs[burn * rows * od..];
        q.forward_seq(params, trained_obs, l + 1 - burn, None, &mut state, online);
        let (tq, oq) = (&self.target.q, &online.q);
        let d_q = &mut self.d_q[..(l + 1 - burn) * rows * n];
        d_q.fill(0.0);
        let gamma = c.gamma as f32;
        let mut best = [0usize];
        for r in 0..rows {
            let m = batch.lengths[r];
            let w = if c.prioritized { weights[r] } else { 1.0 };
            let (mut max_td, mut sum_td, mut count) = (0.0f32, 0.0f32, 0usize);
            for t in burn..m {
                let k = c.n_step.min(m - t);
                let mut ret = 0.0f32;
                let mut discount = 1.0f32;
                for i in 0..k {
                    ret += discount * batch.rewards[(t + i) * rows + r];
                    discount *= gamma;
                }
                let tb = t + k;
                let bootstrap = if tb == m && batch.terminated[r] {
                    None
                } else {
                    // Double Q: the online network picks, the target evaluates.
                    let picker = if c.double_q {
                        &oq[((tb - burn) * rows + r) * n..((tb - burn) * rows + r + 1) * n]
                    } else {
                        &tq[(tb * rows + r) * n..(tb * rows + r + 1) * n]
                    };
                    argmax_rows(picker, n, &mut best);
                    Some(tq[(tb * rows + r) * n + best[0]])
                };
                let y = match (bootstrap, c.value_rescaling) {
                    (Some(v), true) => rescale(ret + discount * unrescale(v)),
                    (Some(v), false) => ret + discount * v,
                    (None, true) => rescale(ret),
                    (None, false) => ret,
                };
                let a = batch.actions[t * rows + r] as usize;
                let cell = ((t - burn) * rows + r) * n;
                let e = oq[cell + a] - y;
                let (loss, g) = if e.abs() <= 1.0 {
                    (0.5 * e * e, e)
                } else {
                    (e.abs() - 0.5, e.signum())
                };
                d_q[cell + a] = w * g * scale;
                sums.loss += (w * loss) as f64;
                sums.q += oq[cell + a] as f64;
                sums.abs_td += e.abs() as f64;
                max_td = max_td.max(e.abs());
                sum_td += e.abs();
                count += 1;
            }
            priorities[r] = if count == 0 {
                0.0
            } else {
                let eta = c.priority_eta as f32;
                eta * max_td + (1.0 - eta) * sum_td / count as f32
            };
            sums.steps += count;
        }
        q.backward(params, grads, trained_obs, online, d_q);
        sums
    }
}

/// Steps of `batch`'s rows that train with burn-in `burn`.
fn trained_steps(batch: &SequenceBatch, burn: usize) -> usize {
    batch.lengths[..batch.rows]
        .iter()
        .map(|&m| m.saturating_sub(burn))
        .sum()
}

/// What a checkpoint stores of an R2D2 run besides tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct R2d2State {
    stepper: StepperState,
    /// Lockstep steps so far: the target update's clock.
    n_calls: u64,
    /// Per environment: its next step is an episode's first.
    at_start: Vec<bool>,
    replay: Option<SequenceReplayState>,
    prioritized: Option<PrioritizedState>,
    /// Gradient steps wait until the replay holds this many sequences.
    refill_until: usize,
}

const TARGET: &str = "target";
const ACTOR_STATE: &str = "actor_state";

/// Runs R2D2.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let q = q_network(rc, c, &*probe)?;
    let layout = &q.layout;
    let (n, obs_dim, sd) = (q.n_actions(), q.obs_dim(), q.state_size());
    let mut store: LocalStore = session.local_store(layout, &rc.optim)?;
    let mut target = store.params.clone();
    let envs = (0..c.n_envs)
        .map(|_| rc.common.make_env())
        .collect::<Result<Vec<_>, _>>()?;
    let mut stepper = Stepper::new(envs, q.action_kind().clone(), obs_dim, rc.common.seed)?;
    let new_replay = || {
        SequenceReplay::new(
            c.buffer_size,
            c.n_envs,
            c.sequence_length,
            c.overlap(),
            obs_dim,
            sd,
        )
        .map_err(TrainError::Usage)
    };
    let mut replay = new_replay()?;
    let new_per = || {
        PrioritizedSampler::new(c.buffer_size, c.per_alpha, c.per_eps).map_err(TrainError::Usage)
    };
    let mut per = if c.prioritized {
        Some(new_per()?)
    } else {
        None
    };
    let mut actor_state = q.initial_state(c.n_envs);
    let mut at_start = vec![true; c.n_envs];
    let mut n_calls = 0u64;
    let mut refill_until = 0usize;
    if let Some(r) = &session.resume {
        let path = &r.path;
        target = load_params(&r.checkpoint, layout, TARGET, path)?;
        let saved: R2d2State = saved_state(&r.state.collectors, path, "R2D2")?;
        stepper.restore(&saved.stepper)?;
        if saved.at_start.len() != c.n_envs {
            return Err(TrainError::Usage(format!(
                "{}: the checkpoint holds {} environments, this run has {} (n_envs)",
                path.display(),
                saved.at_start.len(),
                c.n_envs
            )));
        }
        at_start = saved.at_start;
        n_calls = saved.n_calls;
        refill_until = saved.refill_until;
        let states = r
            .checkpoint
            .tensors
            .iter()
            .find(|t| t.name == ACTOR_STATE)
            .map(|t| &t.data)
            .filter(|d| d.len() == c.n_envs * sd)
            .ok_or_else(|| {
                TrainError::Usage(format!(
                    "{}: the actors' recurrent states ({ACTOR_STATE}, {} floats) are missing or \
                     of another size",
                    path.display(),
                    c.n_envs * sd
                ))
            })?;
        for e in 0..c.n_envs {
            q.set_state_row(&mut actor_state, e, &states[e * sd..(e + 1) * sd]);
        }
        match (&saved.replay, c.save_replay_buffer) {
            (Some(state), true) => {
                let arrays = saved_replay_arrays(&r.checkpoint);
                replay = SequenceReplay::restore(state, &arrays).map_err(TrainError::Usage)?;
                if replay.capacity() != c.buffer_size || replay.length() != c.sequence_length {
                    return Err(TrainError::Usage(format!(
                        "{}: the saved replay's buffer_size or sequence_length differs from this run's",
                        path.display()
                    )));
                }
                restore_priorities(&mut per, &saved.prioritized, &arrays)?;
            }
            _ => {
                refill_until = (c.learning_starts as usize / c.sequence_length).max(1);
                session.monitor.progress.println(&format!(
                    "the replay was not saved (save_replay_buffer = false): it refills from empty, \
                     and learning waits for {refill_until} sequences"
                ));
            }
        }
    }
    session.start(q.clone(), true)?;
    let exploration = c.exploration();
    let lr_schedule = rc.optim.lr();
    let beta_schedule = Schedule::Linear {
        start: c.per_beta0,
        end: 1.0,
    };
    let mut acting = q.pass(c.n_envs);
    let mut learner = Learner::new(&q, c);
    let (l, b) = (c.sequence_length, c.batch_size);
    // Sequences that start an episode train whole; the others after their burn-in.
    let mut whole = SequenceBatch::new(b, l, obs_dim, sd);
    let mut burned = SequenceBatch::new(b, l, obs_dim, sd);
    let (mut indices, mut weights) = (Vec::with_capacity(b), vec![1.0f32; b]);
    let (mut whole_rows, mut burned_rows) = (Vec::with_capacity(b), Vec::with_capacity(b));
    let (mut whole_w, mut burned_w) = (Vec::with_capacity(b), Vec::with_capacity(b));
    let (mut priorities, mut burned_priorities) = (vec![0.0f32; b], vec![0.0f32; b]);
    let mut grads = layout.zeros();
    let (mut actions, mut greedy) = (vec![0.0f32; c.n_envs], vec![0usize; c.n_envs]);
    let mut obs_before = vec![0.0f32; c.n_envs * obs_dim];
    let mut state_before = vec![0.0f32; c.n_envs * sd];
    let target_clock = TargetClock::new(c.target_update_interval, c.n_envs);
    let total = rc.common.total_steps as f64;
    let monitor = session.monitor.clone();
    let mut exploration_rate = exploration.value(monitor.env_steps() as f64 / total);

    let parts = |store: &LocalStore,
                 target: &[f32],
                 stepper: &Stepper,
                 replay: &SequenceReplay,
                 per: &Option<PrioritizedSampler>,
                 actor_state: &RecurrentState,
                 at_start: &[bool],
                 n_calls: u64,
                 refill_until: usize| {
        let mut extra = param_tensors(TARGET, layout, target);
        let mut flat = vec![0.0f32; c.n_envs * sd];
        for e in 0..c.n_envs {
            q.state_row(actor_state, e, &mut flat[e * sd..(e + 1) * sd]);
        }
        extra.push(Tensor {
            name: ACTOR_STATE.to_string(),
            shape: vec![c.n_envs, sd],
            data: flat,
        });
        let saving = c.save_replay_buffer;
        if saving {
            extra.extend(replay_tensors(replay.arrays(), per));
        }
        let state = R2d2State {
            stepper: stepper.save(),
            n_calls,
            at_start: at_start.to_vec(),
            replay: saving.then(|| replay.state()),
            prioritized: per.as_ref().filter(|_| saving).map(|p| p.state()),
            refill_until,
        };
        CheckpointParts {
            params: store.snapshot(),
            optimizers: store.optimizer_states(),
            extra,
            collectors: vec![serde_json::to_value(state).ok()],
            obs_stats: None,
        }
    };

    let result: Result<(), TrainError> = (|| {
        while session.running() {
            // 1. Act train_freq lockstep steps, carrying each actor's state.
            let mut steps = 0u64;
            let mut timesteps = monitor.env_steps();
            while steps < c.train_freq {
                obs_before.copy_from_slice(stepper.obs());
                for e in 0..c.n_envs {
                    q.state_row(&actor_state, e, &mut state_before[e * sd..(e + 1) * sd]);
                }
                // The actor reads every observation, random actions included.
                q.forward_seq(
                    &store.params,
                    &obs_before,
                    1,
                    None,
                    &mut actor_state,
                    &mut acting,
                );
                argmax_rows(&acting.q, n, &mut greedy);
                let random_phase = timesteps < c.learning_starts;
                let greedy_actions = (!random_phase).then_some(&greedy[..]);
                let rng = &mut stepper.rng;
                epsilon_greedy(greedy_actions, n, exploration_rate, rng, &mut actions);
                stepper.step(&actions, &monitor)?;
                for e in 0..c.n_envs {
                    let (terminated, truncated) = (stepper.terminated[e], stepper.truncated[e]);
                    let slot = replay.add_step(
                        e,
                        &obs_before[e * obs_dim..(e + 1) * obs_dim],
                        &state_before[e * sd..(e + 1) * sd],
                        actions[e],
                        stepper.rewards[e],
                        &stepper.next_obs[e * obs_dim..(e + 1) * obs_dim],
                        terminated,
                        truncated,
                        at_start[e],
                    );
                    if let (Some(p), Some(slot)) = (&mut per, slot) {
                        p.on_add([slot]);
                    }
                    at_start[e] = terminated || truncated;
                    if at_start[e] {
                        actor_state.reset_row(e);
                    }
                }
                steps += 1;
                timesteps += c.n_envs as u64;
                n_calls += 1;
                if target_clock.due(n_calls) {
                    target.copy_from_slice(&store.params);
                }
                exploration_rate = exploration.value(timesteps as f64 / total);
                if !session.running() || monitor.should_stop().is_some() {
                    break;
                }
            }
            // 2. Gradient steps on sequences.
            let progress = timesteps as f64 / total;
            let lr = lr_schedule.value(progress);
            let learning = timesteps > c.learning_starts
                && !replay.is_empty()
                && replay.len() >= refill_until
                && c.gradient_steps > 0;
            let mut sums = LossSums::default();
            let mut norm_sum = 0.0;
            if learning {
                refill_until = 0;
                let beta = beta_schedule.value(progress);
                for _ in 0..c.gradient_steps {
                    match &per {
                        Some(p) => p.sample(
                            b,
                            replay.len(),
                            beta,
                            &mut stepper.rng,
                            &mut indices,
                            &mut weights,
                        ),
                        None => replay.sample_uniform(b, &mut stepper.rng, &mut indices),
                    }
                    whole_rows.clear();
                    burned_rows.clear();
                    whole_w.clear();
                    burned_w.clear();
                    for (k, &slot) in indices.iter().enumerate() {
                        let w = if c.prioritized { weights[k] } else { 1.0 };
                        if c.burn_in == 0 || replay.starts_episode(slot) {
                            whole_rows.push(slot);
                            whole_w.push(w);
                        } else {
                            burned_rows.push(slot);
                            burned_w.push(w);
                        }
                    }
                    replay.fill(&whole_rows, &mut whole);
                    replay.fill(&burned_rows, &mut burned);
                    let count = trained_steps(&whole, 0) + trained_steps(&burned, c.burn_in);
                    let scale = 1.0 / count.max(1) as f32;
                    grads.fill(0.0);
                    let mut step = learner.group(
                        &q,
                        c,
                        &store.params,
                        &target,
                        &whole,
                        0,
                        &whole_w,
                        scale,
                        &mut grads,
                        &mut priorities,
                    );
                    let other = learner.group(
                        &q,
                        c,
                        &store.params,
                        &target,
                        &burned,
                        c.burn_in,
                        &burned_w,
                        scale,
                        &mut grads,
                        &mut burned_priorities,
                    );
                    step.loss += other.loss;
                    step.q += other.q;
                    step.abs_td += other.abs_td;
                    step.steps += other.steps;
                    let loss = step.loss / step.steps.max(1) as f64;
                    let norm = clip_grad_norm(&mut grads, rc.optim.max_grad_norm as f32) as f64;
                    if !session.update_is_finite(loss, norm) {
                        return Ok(());
                    }
                    store.apply(&grads, lr as f32);
                    if !session.params_are_finite(&store.params) {
                        return Ok(());
                    }
                    if let Some(p) = &mut per {
                        p.update_priorities(&whole_rows, &priorities[..whole_rows.len()]);
                        p.update_priorities(&burned_rows, &burned_priorities[..burned_rows.len()]);
                    }
                    let steps_f = step.steps.max(1) as f64;
                    sums.loss += loss;
                    sums.q += step.q / steps_f;
                    sums.abs_td += step.abs_td / steps_f;
                    norm_sum += norm;
                }
            }
            let k = c.gradient_steps as f64;
            let measured = |sum: f64| if learning { sum / k } else { f64::NAN };
            let metrics = [
                Metric::mean("loss", measured(sums.loss)),
                Metric::mean("q_values", measured(sums.q)),
                Metric::mean("td_error", measured(sums.abs_td)),
                Metric::mean("grad_norm", measured(norm_sum)),
                Metric::mean("gradient_steps", if learning { k } else { 0.0 }),
                Metric::last("sequences", replay.len() as f64),
                Metric::last("exploration_rate", exploration_rate),
                Metric::last("learning_rate", lr),
            ];
            session.after_update(steps * c.n_envs as u64, &metrics, &mut || {
                parts(
                    &store,
                    &target,
                    &stepper,
                    &replay,
                    &per,
                    &actor_state,
                    &at_start,
                    n_calls,
                    refill_until,
                )
            })?;
        }
        Ok(())
    })();
    session.finish(result, || {
        parts(
            &store,
            &target,
            &stepper,
            &replay,
            &per,
            &actor_state,
            &at_start,
            n_calls,
            refill_until,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NetConfig, PolicyKind};
    use crate::offpolicy::sequence_replay::SequenceReplay;
    use engram_env::Space;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn lstm_q(policy: PolicyKind, dueling: bool) -> QNetwork {
        let net = NetConfig {
            policy,
            hidden_size: 6,
            encoder_layers: vec![5],
            ..NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0; 3],
            high: vec![1.0; 3],
            shape: vec![3],
        };
        QNetwork::recurrent(&obs, &Space::Discrete { n: 3, start: 0 }, &net, dueling).unwrap()
    }

    /// A replay of random episodes (lengths 3 to 30) and random states, sequences of 12.
    fn random_replay(q: &QNetwork, rng: &mut ChaCha8Rng) -> SequenceReplay {
        let sd = q.state_size();
        let mut r = SequenceReplay::new(64, 1, 12, 6, 3, sd).unwrap();
        for _ in 0..6 {
            let len = rng.gen_range(3..30);
            for t in 0..len {
                let o: Vec<f32> = (0..3).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let s: Vec<f32> = (0..sd).map(|_| rng.gen_range(-0.5..0.5)).collect();
                let next: Vec<f32> = (0..3).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let last = t + 1 == len;
                r.add_step(
                    0,
                    &o,
                    &s,
                    rng.gen_range(0..3) as f32,
                    rng.gen_range(-1.0..1.0),
                    &next,
                    last && rng.gen(),
                    false,
                    t == 0,
                );
            }
        }
        r
    }

    fn config(burn_in: usize) -> Config {
        Config {
            sequence_length: 12,
            sequence_overlap: 6,
            burn_in,
            batch_size: 4,
            n_step: 3,
            gamma: 0.9,
            // The bootstrap's action then depends on the (fixed) target parameters only: finite
            // differences of the online ones cannot flip an argmax.
            double_q: false,
            ..Config::default()
        }
    }

    /// The loss of `group` (weighted Huber sum times `scale`) and its gradient.
    fn loss_and_grad(
        q: &QNetwork,
        c: &Config,
        p: &[f32],
        target: &[f32],
        batch: &SequenceBatch,
        burn: usize,
    ) -> (f64, Vec<f32>) {
        let mut learner = Learner::new(q, c);
        let mut g = q.layout.zeros();
        let mut prio = vec![0.0; batch.rows];
        let w = vec![1.0; batch.rows];
        let sums = learner.group(q, c, p, target, batch, burn, &w, 1.0, &mut g, &mut prio);
        (sums.loss, g)
    }

    #[test]
    fn burn_in_steps_get_zero_gradient() {
        for policy in [PolicyKind::Lstm, PolicyKind::Gru] {
            let q = lstm_q(policy, true);
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let p = q.layout.initialize(&mut rng);
            // The target equal to the online parameters at the start: its pass through the
            // burn-in then reaches the same state as the online burn-in, so the cut below sees
            // the same target values. Finite differences move the online parameters only.
            let target = p.clone();
            let replay = random_replay(&q, &mut rng);
            let c = config(5);
            // Sequences that do not start an episode, with more than burn_in steps.
            let slots: Vec<usize> = (0..replay.len())
                .filter(|&s| !replay.starts_episode(s))
                .take(3)
                .collect();
            assert!(
                slots.len() >= 2,
                "the random replay has continuation sequences"
            );
            let mut batch = SequenceBatch::new(4, 12, 3, q.state_size());
            replay.fill(&slots, &mut batch);
            let (_, g) = loss_and_grad(&q, &c, &p, &target, &batch, c.burn_in);
            // The same sequences cut after their burn-in, starting from the state the burn-in
            // reached (held fixed): no burn-in left, so every remaining step trains.
            let rows = batch.rows;
            let mut state = q.initial_state(rows);
            let sd = q.state_size();
            for r in 0..rows {
                q.set_state_row(&mut state, r, &batch.states[r * sd..(r + 1) * sd]);
            }
            let mut pass = q.seq_pass(c.burn_in, rows);
            q.forward_seq(
                &p,
                &batch.obs[..c.burn_in * rows * 3],
                c.burn_in,
                None,
                &mut state,
                &mut pass,
            );
            let l = 12 - c.burn_in;
            let mut cut = SequenceBatch::new(4, l, 3, sd);
            cut.rows = rows;
            cut.obs[..(l + 1) * rows * 3]
                .copy_from_slice(&batch.obs[c.burn_in * rows * 3..13 * rows * 3]);
            cut.actions[..l * rows].copy_from_slice(&batch.actions[c.burn_in * rows..12 * rows]);
            cut.rewards[..l * rows].copy_from_slice(&batch.rewards[c.burn_in * rows..12 * rows]);
            for r in 0..rows {
                cut.lengths[r] = batch.lengths[r] - c.burn_in;
                cut.terminated[r] = batch.terminated[r];
                q.state_row(&state, r, &mut cut.states[r * sd..(r + 1) * sd]);
            }
            let (_, g_cut) = loss_and_grad(&q, &c, &p, &target, &cut, 0);
            // Finite differences of the cut loss (burn-in state fixed) match the gradient the
            // burn-in pass gave: nothing flowed into the burn-in.
            let mut dirs = ChaCha8Rng::seed_from_u64(11);
            for _ in 0..4 {
                let d: Vec<f32> = (0..p.len()).map(|_| dirs.gen_range(-1.0..1.0)).collect();
                let h = 1e-3f32;
                let at = |sign: f32| -> Vec<f32> {
                    p.iter().zip(&d).map(|(a, b)| a + sign * h * b).collect()
                };
                let numeric = (loss_and_grad(&q, &c, &at(1.0), &target, &cut, 0).0
                    - loss_and_grad(&q, &c, &at(-1.0), &target, &cut, 0).0)
                    / (2.0 * h as f64);
                let analytic: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
                let cut_analytic: f64 = g_cut
                    .iter()
                    .zip(&d)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum();
                assert!(
                    (numeric - cut_analytic).abs()
                        < 0.02 * numeric.abs().max(cut_analytic.abs()) + 2e-3,
                    "{policy:?}: cut loss {cut_analytic} vs finite differences {numeric}"
                );
                // The burn-in pass's gradient is the cut loss's.
                assert!(
                    (analytic - cut_analytic).abs()
                        < 0.02 * analytic.abs().max(cut_analytic.abs()) + 2e-3,
                    "{policy:?}: with burn-in {analytic} vs cut {cut_analytic}"
                );
            }
            // And through the burn-in the full loss would have another gradient.
            let (_, g_whole) = loss_and_grad(&q, &config(0), &p, &target, &batch, 0);
            assert_ne!(g_whole, g);
        }
    }

    #[test]
    fn stored_states_are_the_actors_states_bit_for_bit() {
        // Two environments acted in lockstep as `run` does (one batched step of both rows);
        // each stored sequence's state must be, bit for bit, the state the actor had before
        // that step of the same episode, through resets and overlaps; and, up to rounding (the
        // kernels' sums run in another order for one row than for two), the state of the
        // single-environment player `engram eval` uses.
        let q = lstm_q(PolicyKind::Lstm, false);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = q.layout.initialize(&mut rng);
        let (sd, n_envs) = (q.state_size(), 2);
        let mut replay = SequenceReplay::new(200, n_envs, 8, 4, 3, sd).unwrap();
        let mut actor = q.initial_state(n_envs);
        let mut pass = q.pass(n_envs);
        // Each env's episodes: observations per step, and where sequences were stored.
        let mut episodes: Vec<Vec<Vec<f32>>> = vec![Vec::new(); n_envs];
        let mut current: Vec<Vec<f32>> = vec![Vec::new(); n_envs];
        // The actor's state before each step, per env and episode.
        let mut actor_log: Vec<Vec<Vec<f32>>> = vec![Vec::new(); n_envs];
        let mut current_log: Vec<Vec<f32>> = vec![Vec::new(); n_envs];
        let mut at_start = vec![true; n_envs];
        let mut stored = Vec::new(); // (slot, env, episode index, first step)
        let lengths = [[1usize, 7, 8, 9, 21], [20, 3, 8, 16, 1]];
        let mut step_in = [0usize; 2];
        let mut episode_in = [0usize; 2];
        let mut state_before = vec![0.0f32; n_envs * sd];
        while episode_in.iter().zip(&lengths).any(|(&e, l)| e < l.len()) {
            let obs: Vec<f32> = (0..n_envs * 3).map(|_| rng.gen_range(-1.0..1.0)).collect();
            for e in 0..n_envs {
                q.state_row(&actor, e, &mut state_before[e * sd..(e + 1) * sd]);
            }
            q.forward_seq(&p, &obs, 1, None, &mut actor, &mut pass);
            for e in 0..n_envs {
                if episode_in[e] >= lengths[e].len() {
                    continue;
                }
                let len = lengths[e][episode_in[e]];
                let o = &obs[e * 3..(e + 1) * 3];
                current[e].extend_from_slice(o);
                current_log[e].extend_from_slice(&state_before[e * sd..(e + 1) * sd]);
                step_in[e] += 1;
                let done = step_in[e] == len;
                let slot = replay.add_step(
                    e,
                    o,
                    &state_before[e * sd..(e + 1) * sd],
                    0.0,
                    0.0,
                    &[0.0; 3],
                    done,
                    false,
                    at_start[e],
                );
                if let Some(slot) = slot {
                    let mut b = SequenceBatch::new(1, 8, 3, sd);
                    replay.fill(&[slot], &mut b);
                    stored.push((slot, e, episode_in[e], step_in[e] - b.lengths[0]));
                }
                at_start[e] = done;
                if done {
                    actor.reset_row(e);
                    episodes[e].push(std::mem::take(&mut current[e]));
                    actor_log[e].push(std::mem::take(&mut current_log[e]));
                    episode_in[e] += 1;
                    step_in[e] = 0;
                }
            }
        }
        assert!(stored.len() >= 12, "{} sequences", stored.len());
        for &(slot, e, episode, first) in &stored {
            let mut player = q.player(&p);
            player.reset();
            let mut action = [0.0f32];
            for t in 0..first {
                player.act(&episodes[e][episode][t * 3..(t + 1) * 3], None, &mut action);
            }
            let mut b = SequenceBatch::new(1, 8, 3, sd);
            replay.fill(&[slot], &mut b);
            let actor_had = &actor_log[e][episode][first * sd..(first + 1) * sd];
            assert_eq!(
                b.states.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                actor_had.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "env {e} episode {episode} from step {first}"
            );
            let played: Vec<f32> = if first == 0 {
                vec![0.0; sd]
            } else {
                player.recurrent_state().to_vec()
            };
            for (a, b) in b.states.iter().zip(&played) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "env {e} episode {episode}: {a} vs {b}"
                );
            }
            assert_eq!(b.episode_start[0], first == 0);
        }
    }
}
