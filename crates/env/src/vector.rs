//! Vector environments: N copies of an environment stepped together, with Gymnasium 1.x
//! autoreset semantics, observations in one contiguous buffer and no allocation per step.
//!
//! # Autoreset modes
//!
//! When a sub-environment's episode ends, the vector env resets it by itself. Gymnasium 1.x
//! offers two ways, and so does engram ([`AutoresetMode`]):
//!
//! * [`AutoresetMode::NextStep`] (Gymnasium 1.x's default): the step that ends the episode
//!   returns the last observation of that episode, with its reward and flags. The *next*
//!   `step` resets that sub-env instead of stepping it: its action is ignored, and it returns
//!   the reset observation with reward 0 and `terminated = truncated = false`.
//! * [`AutoresetMode::SameStep`] (what engram's training runtime uses): the step that ends the
//!   episode also resets the sub-env. It returns the reward and flags of the final transition,
//!   but the *reset* observation in [`VectorEnv::observations`]; the final observation of the
//!   finished episode is copied into [`VectorEnv::final_observations`] and flagged in
//!   [`VectorEnv::has_final_observation`] (Gymnasium's `info["final_obs"]`), which is what a
//!   learner bootstraps from on truncation.
//! * [`AutoresetMode::Disabled`]: nothing is reset; call [`VectorEnv::reset_env`] yourself.
//!
//! # Buffers
//!
//! Observations are one `[num_envs * obs_dim]` `f32` buffer (sub-env `i` at
//! `i * obs_dim..(i + 1) * obs_dim`, in the flat encoding of [`Space`]); rewards, flags and
//! finished-episode statistics are arrays of `num_envs`. Actions come in as one flat `f32`
//! buffer of `num_envs * action_dim`: a Discrete action is its index as `f32`, a MultiDiscrete
//! action its components, a Box action its values.

use crate::space::{Action, Space};
use crate::wrappers::EpisodeStats;
use crate::{Env, EnvError};
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// How a vector env resets sub-environments whose episode ended: see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoresetMode {
    /// Reset on the step after the episode ended (Gymnasium 1.x's default).
    #[default]
    NextStep,
    /// Reset within the step that ended the episode; the final observation goes to
    /// `final_observations`.
    SameStep,
    /// Never reset automatically.
    Disabled,
}

/// The interface shared by [`SyncVectorEnv`] and [`ThreadedVectorEnv`].
pub trait VectorEnv {
    fn num_envs(&self) -> usize;
    fn single_observation_space(&self) -> &Space;
    fn single_action_space(&self) -> &Space;
    fn autoreset_mode(&self) -> AutoresetMode;

    /// Resets every sub-env; `Some(seed)` seeds sub-env `i` with `seed + i`, as Gymnasium.
    fn reset(&mut self, seed: Option<u64>) -> Result<(), EnvError>;

    /// Resets one sub-env (for [`AutoresetMode::Disabled`], or to restart one early).
    fn reset_env(&mut self, index: usize, seed: Option<u64>) -> Result<(), EnvError>;

    /// Steps every sub-env with `actions` (`num_envs * action_dim` floats). After an error the
    /// sub-envs may be in different phases: reset before stepping again.
    fn step(&mut self, actions: &[f32]) -> Result<(), EnvError>;

    /// `num_envs * obs_dim` floats: each sub-env's current observation.
    fn observations(&self) -> &[f32];
    /// Rewards of the last step.
    fn rewards(&self) -> &[f64];
    fn terminated(&self) -> &[bool];
    fn truncated(&self) -> &[bool];
    /// [`AutoresetMode::SameStep`]: the last observation of the episodes that the last step
    /// ended (valid where [`VectorEnv::has_final_observation`] is set).
    fn final_observations(&self) -> &[f32];
    fn has_final_observation(&self) -> &[bool];
    /// Return and length of the episode each sub-env finished in the last step, if it did.
    fn finished_episodes(&self) -> &[Option<EpisodeStats>];

    /// Floats per observation.
    fn obs_dim(&self) -> usize {
        self.single_observation_space().flat_dim()
    }
    /// Floats per action.
    fn action_dim(&self) -> usize {
        self.single_action_space().flat_dim()
    }
}

/// The error of `reset_env` for an index past the last of `n` sub-environments.
fn index_out_of_range(index: usize, n: usize) -> EnvError {
    EnvError::Other(format!(
        "sub-environment index {index} is out of range: there are {n}"
    ))
}

/// `step`'s check that `actions` holds `action_dim` floats for each of `n` sub-environments.
fn check_action_len(actions: &[f32], n: usize, action_dim: usize) -> Result<(), EnvError> {
    if actions.len() == n * action_dim {
        Ok(())
    } else {
        Err(EnvError::Other(format!(
            "expected {} action floats ({n} envs x {action_dim}), got {}",
            n * action_dim,
            actions.len()
        )))
    }
}

/// How flat action floats become an [`Action`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum ActionKind {
    Discrete,
    MultiDiscrete,
    Continuous,
}

impl ActionKind {
    pub(crate) fn of(space: &Space) -> Result<Self, EnvError> {
        match space {
            Space::Discrete { .. } => Ok(ActionKind::Discrete),
            Space::MultiDiscrete { .. } => Ok(ActionKind::MultiDiscrete),
            Space::Box { .. } => Ok(ActionKind::Continuous),
            Space::Tuple(_) => Err(EnvError::Unsupported(format!(
                "vector environments with a Tuple action space ({space})"
            ))),
        }
    }
}

#[inline]
fn integral(value: f32, space: &Space) -> Result<i64, EnvError> {
    // Round trip instead of `fract()`, which is a libm call on baseline x86-64; NaN and
    // infinities fail it too.
    let index = value as i64;
    if index as f32 != value {
        return Err(invalid_flat_action(value, space));
    }
    Ok(index)
}

#[cold]
fn invalid_flat_action(value: f32, space: &Space) -> EnvError {
    EnvError::InvalidAction {
        action: value.to_string(),
        space: space.describe(),
    }
}

/// Reads one sub-env's action from its flat floats; MultiDiscrete components go through
/// `scratch` (preallocated), so nothing is allocated.
#[inline]
pub(crate) fn to_action<'a>(
    kind: ActionKind,
    space: &Space,
    flat: &'a [f32],
    scratch: &'a mut [i64],
) -> Result<Action<'a>, EnvError> {
    Ok(match kind {
        ActionKind::Discrete => Action::Discrete(integral(flat[0], space)?),
        ActionKind::MultiDiscrete => {
            for (s, &v) in scratch.iter_mut().zip(flat) {
                *s = integral(v, space)?;
            }
            Action::MultiDiscrete(scratch)
        }
        ActionKind::Continuous => Action::Continuous(flat),
    })
}

/// A vector env's output buffers, allocated once.
#[derive(Clone, Debug)]
struct Buffers {
    observations: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    final_observations: Vec<f32>,
    has_final_observation: Vec<bool>,
    finished: Vec<Option<EpisodeStats>>,
}

impl Buffers {
    fn new(num_envs: usize, obs_dim: usize) -> Self {
        Buffers {
            observations: vec![0.0; num_envs * obs_dim],
            rewards: vec![0.0; num_envs],
            terminated: vec![false; num_envs],
            truncated: vec![false; num_envs],
            final_observations: vec![0.0; num_envs * obs_dim],
            has_final_observation: vec![false; num_envs],
            finished: vec![None; num_envs],
        }
    }

    fn clear_step_outputs(&mut self) {
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        self.has_final_observation.fill(false);
        self.finished.fill(None);
    }

    /// Copies another env's buffers into sub-envs `range` of these.
    fn copy_from(&mut self, other: &Buffers, range: &Range<usize>, obs_dim: usize) {
        let obs = range.start * obs_dim..range.end * obs_dim;
        self.observations[obs.clone()].copy_from_slice(&other.observations);
        self.final_observations[obs].copy_from_slice(&other.final_observations);
        self.rewards[range.clone()].copy_from_slice(&other.rewards);
        self.terminated[range.clone()].copy_from_slice(&other.terminated);
        self.truncated[range.clone()].copy_from_slice(&other.truncated);
        self.has_final_observation[range.clone()].copy_from_slice(&other.has_final_observation);
        self.finished[range.clone()].copy_from_slice(&other.finished);
    }
}

fn check_spaces<E: Env>(envs: &[E]) -> Result<(Space, Space), EnvError> {
    let first = envs.first().ok_or_else(|| {
        EnvError::Other("a vector environment needs at least one sub-environment".into())
    })?;
    let (obs_space, action_space) = (first.observation_space(), first.action_space());
    for (i, env) in envs.iter().enumerate().skip(1) {
        if env.observation_space() != obs_space || env.action_space() != action_space {
            return Err(EnvError::Other(format!(
                "sub-environment {i} has spaces {} / {}, sub-environment 0 has {} / {}: \
                 a vector environment needs identical spaces",
                env.observation_space(),
                env.action_space(),
                obs_space,
                action_space
            )));
        }
    }
    if obs_space.flat_dim() == 0 || action_space.flat_dim() == 0 {
        return Err(EnvError::Unsupported(format!(
            "vector environments of empty observations or actions ({obs_space} / {action_space})"
        )));
    }
    Ok((obs_space.clone(), action_space.clone()))
}

/// N environments stepped one after another on the calling thread (Gymnasium's
/// `SyncVectorEnv`). Generic over the sub-env type: `SyncVectorEnv<CartPole>` steps without
/// dynamic dispatch; [`SyncVectorEnv::make`] builds a `SyncVectorEnv<Box<dyn Env>>` by id.
pub struct SyncVectorEnv<E = Box<dyn Env>> {
    envs: Vec<E>,
    observation_space: Space,
    action_space: Space,
    mode: AutoresetMode,
    obs_dim: usize,
    action_dim: usize,
    action_kind: ActionKind,
    /// MultiDiscrete components of the action being converted.
    int_scratch: Vec<i64>,
    /// [`AutoresetMode::NextStep`]: the sub-env's episode ended on the previous step.
    needs_reset: Vec<bool>,
    episode_returns: Vec<f64>,
    episode_lengths: Vec<u64>,
    buffers: Buffers,
    has_reset: bool,
}

impl<E> std::fmt::Debug for SyncVectorEnv<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncVectorEnv")
            .field("num_envs", &self.envs.len())
            .field("observation_space", &self.observation_space)
            .field("action_space", &self.action_space)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<E: Env + 'static> std::fmt::Debug for ThreadedVectorEnv<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadedVectorEnv")
            .field("num_envs", &self.num_envs)
            .field("num_threads", &self.ranges.len())
            .field("observation_space", &self.observation_space)
            .field("action_space", &self.action_space)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl SyncVectorEnv<Box<dyn Env>> {
    /// `num_envs` copies of `make(id, options)`.
    pub fn make(
        id: &str,
        options: &crate::Options,
        num_envs: usize,
        mode: AutoresetMode,
    ) -> Result<Self, EnvError> {
        let envs = (0..num_envs)
            .map(|_| crate::registry::make(id, options))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(envs, mode)
    }
}

impl<E: Env> SyncVectorEnv<E> {
    /// The sub-envs must have identical observation and action spaces (Tuple actions are not
    /// supported).
    pub fn new(envs: Vec<E>, mode: AutoresetMode) -> Result<Self, EnvError> {
        let (observation_space, action_space) = check_spaces(&envs)?;
        let n = envs.len();
        let obs_dim = observation_space.flat_dim();
        let action_dim = action_space.flat_dim();
        Ok(SyncVectorEnv {
            action_kind: ActionKind::of(&action_space)?,
            int_scratch: vec![0; action_dim],
            needs_reset: vec![false; n],
            episode_returns: vec![0.0; n],
            episode_lengths: vec![0; n],
            buffers: Buffers::new(n, obs_dim),
            has_reset: false,
            envs,
            observation_space,
            action_space,
            mode,
            obs_dim,
            action_dim,
        })
    }

    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// Sub-env `index` (stepping it directly bypasses the vector env's bookkeeping).
    pub fn env_mut(&mut self, index: usize) -> &mut E {
        &mut self.envs[index]
    }

    pub fn into_envs(self) -> Vec<E> {
        self.envs
    }

    fn reset_one(&mut self, i: usize, seed: Option<u64>) -> Result<(), EnvError> {
        let d = self.obs_dim;
        self.envs[i].reset(seed, &mut self.buffers.observations[i * d..(i + 1) * d])?;
        self.needs_reset[i] = false;
        self.episode_returns[i] = 0.0;
        self.episode_lengths[i] = 0;
        Ok(())
    }

    /// The stepping loop, with the action conversion `to_action` inlined.
    #[inline(always)]
    fn step_all<F>(&mut self, actions: &[f32], to_action: F) -> Result<(), EnvError>
    where
        F: for<'a> Fn(&'a [f32], &'a mut [i64], &Space) -> Result<Action<'a>, EnvError>,
    {
        let (d, ad) = (self.obs_dim, self.action_dim);
        let b = &mut self.buffers;
        // Zipped iterators rather than indexing: no bounds checks in the loop.
        let sub_envs = self
            .envs
            .iter_mut()
            .zip(b.observations.chunks_exact_mut(d))
            .zip(b.final_observations.chunks_exact_mut(d))
            .zip(actions.chunks_exact(ad))
            .zip(self.needs_reset.iter_mut())
            .zip(
                self.episode_returns
                    .iter_mut()
                    .zip(self.episode_lengths.iter_mut()),
            )
            .zip(b.rewards.iter_mut())
            .zip(b.terminated.iter_mut().zip(b.truncated.iter_mut()))
            .zip(
                b.finished
                    .iter_mut()
                    .zip(b.has_final_observation.iter_mut()),
            );
        for item in sub_envs {
            let (
                (((((((env, obs), final_obs), flat), needs_reset), episode), reward), flags),
                last,
            ) = item;
            let (episode_return, episode_length) = episode;
            let (terminated, truncated) = flags;
            let (finished, has_final) = last;
            *finished = None;
            *has_final = false;
            if *needs_reset {
                env.reset(None, obs)?;
                *needs_reset = false;
                *reward = 0.0;
                *terminated = false;
                *truncated = false;
                continue;
            }
            let action = to_action(flat, &mut self.int_scratch, &self.action_space)?;
            let step = env.step(action, obs)?;
            *reward = step.reward;
            *terminated = step.terminated;
            *truncated = step.truncated;
            *episode_return += step.reward;
            *episode_length += 1;
            if step.done() {
                *finished = Some(EpisodeStats {
                    episode_return: *episode_return,
                    length: *episode_length,
                });
                *episode_return = 0.0;
                *episode_length = 0;
                match self.mode {
                    AutoresetMode::NextStep => *needs_reset = true,
                    AutoresetMode::SameStep => {
                        final_obs.copy_from_slice(obs);
                        *has_final = true;
                        env.reset(None, obs)?;
                    }
                    AutoresetMode::Disabled => {}
                }
            }
        }
        Ok(())
    }
}

impl<E: Env> VectorEnv for SyncVectorEnv<E> {
    fn num_envs(&self) -> usize {
        self.envs.len()
    }
    fn single_observation_space(&self) -> &Space {
        &self.observation_space
    }
    fn single_action_space(&self) -> &Space {
        &self.action_space
    }
    fn autoreset_mode(&self) -> AutoresetMode {
        self.mode
    }
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    fn action_dim(&self) -> usize {
        self.action_dim
    }

    fn reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        self.buffers.clear_step_outputs();
        for i in 0..self.envs.len() {
            self.reset_one(i, seed.map(|s| s.wrapping_add(i as u64)))?;
        }
        self.has_reset = true;
        Ok(())
    }

    fn reset_env(&mut self, index: usize, seed: Option<u64>) -> Result<(), EnvError> {
        if index >= self.envs.len() {
            return Err(index_out_of_range(index, self.envs.len()));
        }
        self.reset_one(index, seed)
    }

    fn step(&mut self, actions: &[f32]) -> Result<(), EnvError> {
        if !self.has_reset {
            return Err(EnvError::NotReset);
        }
        check_action_len(actions, self.envs.len(), self.action_dim)?;
        // One loop per action kind, so that the conversion is not re-decided per sub-env.
        match self.action_kind {
            ActionKind::Discrete => self.step_all(actions, |flat, _, space| {
                Ok(Action::Discrete(integral(flat[0], space)?))
            }),
            ActionKind::MultiDiscrete => self.step_all(actions, |flat, scratch, space| {
                for (s, &v) in scratch.iter_mut().zip(flat) {
                    *s = integral(v, space)?;
                }
                Ok(Action::MultiDiscrete(scratch))
            }),
            ActionKind::Continuous => {
                self.step_all(actions, |flat, _, _| Ok(Action::Continuous(flat)))
            }
        }
    }

    fn observations(&self) -> &[f32] {
        &self.buffers.observations
    }
    fn rewards(&self) -> &[f64] {
        &self.buffers.rewards
    }
    fn terminated(&self) -> &[bool] {
        &self.buffers.terminated
    }
    fn truncated(&self) -> &[bool] {
        &self.buffers.truncated
    }
    fn final_observations(&self) -> &[f32] {
        &self.buffers.final_observations
    }
    fn has_final_observation(&self) -> &[bool] {
        &self.buffers.has_final_observation
    }
    fn finished_episodes(&self) -> &[Option<EpisodeStats>] {
        &self.buffers.finished
    }
}

#[derive(Clone, Copy, Debug)]
enum Command {
    Reset(Option<u64>),
    Step,
}

/// One partition of the sub-envs with its own copy of its actions, shipped to a worker thread
/// and back (a pointer move through a bounded channel: no allocation).
struct Job<E> {
    envs: SyncVectorEnv<E>,
    actions: Vec<f32>,
    command: Command,
    result: Result<(), EnvError>,
}

impl<E: Env> Job<E> {
    fn run(&mut self) {
        self.result = match self.command {
            Command::Reset(seed) => self.envs.reset(seed),
            Command::Step => self.envs.step(&self.actions),
        };
    }
}

struct Worker<E> {
    to_worker: Option<SyncSender<Box<Job<E>>>>,
    from_worker: Receiver<Box<Job<E>>>,
    handle: Option<JoinHandle<()>>,
}

/// N environments partitioned over a few threads that step their share in parallel, for
/// environments whose step is expensive; same interface and same results as
/// [`SyncVectorEnv`] (each partition *is* a `SyncVectorEnv`). The calling thread steps the first
/// partition itself, so `num_threads` threads work in all (`num_threads - 1` are spawned). For
/// cheap environments such as CartPole the hand-off costs more than the stepping: use
/// [`SyncVectorEnv`].
pub struct ThreadedVectorEnv<E: Env + 'static = Box<dyn Env>> {
    /// Partition `p` covers sub-envs `ranges[p]`; `None` only while away at a worker, or lost
    /// when a worker panicked.
    jobs: Vec<Option<Box<Job<E>>>>,
    ranges: Vec<Range<usize>>,
    /// `workers[p - 1]` runs partition `p`.
    workers: Vec<Worker<E>>,
    /// Which partitions are away at their worker during `run_all` (preallocated).
    sent: Vec<bool>,
    observation_space: Space,
    action_space: Space,
    mode: AutoresetMode,
    num_envs: usize,
    obs_dim: usize,
    action_dim: usize,
    buffers: Buffers,
}

impl ThreadedVectorEnv<Box<dyn Env>> {
    /// `num_envs` copies of `make(id, options)` over `num_threads` threads.
    pub fn make(
        id: &str,
        options: &crate::Options,
        num_envs: usize,
        mode: AutoresetMode,
        num_threads: usize,
    ) -> Result<Self, EnvError> {
        let envs = (0..num_envs)
            .map(|_| crate::registry::make(id, options))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(envs, mode, num_threads)
    }
}

impl<E: Env + 'static> ThreadedVectorEnv<E> {
    /// Splits `envs` into `min(num_threads, envs.len())` contiguous partitions of nearly equal
    /// size.
    pub fn new(envs: Vec<E>, mode: AutoresetMode, num_threads: usize) -> Result<Self, EnvError> {
        let (observation_space, action_space) = check_spaces(&envs)?;
        if num_threads == 0 {
            return Err(EnvError::Other(
                "ThreadedVectorEnv needs at least 1 thread".into(),
            ));
        }
        let num_envs = envs.len();
        let parts = num_threads.min(num_envs);
        let mut ranges = Vec::with_capacity(parts);
        let mut start = 0;
        for p in 0..parts {
            let len = num_envs / parts + usize::from(p < num_envs % parts);
            ranges.push(start..start + len);
            start += len;
        }
        let action_dim = action_space.flat_dim();
        let mut envs = envs.into_iter();
        let mut jobs = Vec::with_capacity(parts);
        for range in &ranges {
            let part: Vec<E> = envs.by_ref().take(range.len()).collect();
            jobs.push(Some(Box::new(Job {
                envs: SyncVectorEnv::new(part, mode)?,
                actions: vec![0.0; range.len() * action_dim],
                command: Command::Step,
                result: Ok(()),
            })));
        }
        let mut workers = Vec::with_capacity(parts.saturating_sub(1));
        for p in 1..parts {
            let (to_worker, worker_inbox) = sync_channel::<Box<Job<E>>>(1);
            let (worker_outbox, from_worker) = sync_channel::<Box<Job<E>>>(1);
            let handle = std::thread::Builder::new()
                .name(format!("engram-vecenv-{p}"))
                .spawn(move || {
                    while let Ok(mut job) = worker_inbox.recv() {
                        job.run();
                        if worker_outbox.send(job).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| EnvError::Other(format!("cannot start a vector env thread: {e}")))?;
            workers.push(Worker {
                to_worker: Some(to_worker),
                from_worker,
                handle: Some(handle),
            });
        }
        let obs_dim = observation_space.flat_dim();
        Ok(ThreadedVectorEnv {
            sent: vec![false; ranges.len()],
            jobs,
            ranges,
            workers,
            obs_dim,
            observation_space,
            action_space,
            mode,
            num_envs,
            action_dim,
            buffers: Buffers::new(num_envs, obs_dim),
        })
    }

    /// Number of partitions (threads working, the caller's included).
    pub fn num_threads(&self) -> usize {
        self.ranges.len()
    }

    /// Sub-env `index`, or `None` if its partition was lost to a panicking worker.
    pub fn env(&self, index: usize) -> Option<&E> {
        let p = self.ranges.iter().position(|r| r.contains(&index))?;
        let job = self.jobs[p].as_ref()?;
        job.envs.envs().get(index - self.ranges[p].start)
    }

    fn lost(&self, p: usize) -> EnvError {
        let r = &self.ranges[p];
        EnvError::Other(format!(
            "the thread stepping sub-environments {}..{} panicked; this vector env is unusable",
            r.start, r.end
        ))
    }

    /// Runs `command` on every partition in parallel and gathers the results. A seed is offset
    /// by each partition's first sub-env, so that sub-env `i` gets `seed + i` as in
    /// [`SyncVectorEnv`].
    fn run_all(&mut self, command: Command, actions: Option<&[f32]>) -> Result<(), EnvError> {
        let ad = self.action_dim;
        let mut result = Ok(());
        let command_for = |range: &Range<usize>| match command {
            Command::Reset(Some(seed)) => {
                Command::Reset(Some(seed.wrapping_add(range.start as u64)))
            }
            other => other,
        };
        self.sent.fill(false);
        for p in 1..self.ranges.len() {
            let Some(mut job) = self.jobs[p].take() else {
                result = result.and(Err(self.lost(p)));
                continue;
            };
            let range = &self.ranges[p];
            job.command = command_for(range);
            if let Some(actions) = actions {
                job.actions
                    .copy_from_slice(&actions[range.start * ad..range.end * ad]);
            }
            match self.workers[p - 1].to_worker.as_ref().map(|s| s.send(job)) {
                Some(Ok(())) => self.sent[p] = true,
                Some(Err(returned)) => {
                    self.jobs[p] = Some(returned.0);
                    result = result.and(Err(self.lost(p)));
                }
                None => result = result.and(Err(self.lost(p))),
            }
        }
        // The first partition runs here, in parallel with the workers.
        match self.jobs[0].as_mut() {
            Some(job) => {
                let range = &self.ranges[0];
                job.command = command_for(range);
                if let Some(actions) = actions {
                    job.actions.copy_from_slice(&actions[..range.end * ad]);
                }
                job.run();
                result = result.and(job.result.clone());
                self.buffers
                    .copy_from(&job.envs.buffers, range, self.obs_dim);
            }
            None => result = result.and(Err(self.lost(0))),
        }
        for p in 1..self.ranges.len() {
            if !self.sent[p] {
                continue;
            }
            match self.workers[p - 1].from_worker.recv() {
                Ok(job) => {
                    result = result.and(job.result.clone());
                    self.buffers
                        .copy_from(&job.envs.buffers, &self.ranges[p], self.obs_dim);
                    self.jobs[p] = Some(job);
                }
                Err(_) => result = result.and(Err(self.lost(p))),
            }
        }
        result
    }
}

impl<E: Env + 'static> Drop for ThreadedVectorEnv<E> {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.to_worker = None; // closes the inbox: the worker's loop ends
        }
        for worker in &mut self.workers {
            if let Some(handle) = worker.handle.take() {
                let _ = handle.join();
            }
        }
    }
}

impl<E: Env + 'static> VectorEnv for ThreadedVectorEnv<E> {
    fn num_envs(&self) -> usize {
        self.num_envs
    }
    fn single_observation_space(&self) -> &Space {
        &self.observation_space
    }
    fn single_action_space(&self) -> &Space {
        &self.action_space
    }
    fn autoreset_mode(&self) -> AutoresetMode {
        self.mode
    }
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    fn action_dim(&self) -> usize {
        self.action_dim
    }

    fn reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        self.run_all(Command::Reset(seed), None)
    }

    fn reset_env(&mut self, index: usize, seed: Option<u64>) -> Result<(), EnvError> {
        let Some(p) = self.ranges.iter().position(|r| r.contains(&index)) else {
            return Err(index_out_of_range(index, self.num_envs));
        };
        let Some(job) = self.jobs[p].as_mut() else {
            return Err(self.lost(p));
        };
        job.envs.reset_env(index - self.ranges[p].start, seed)?;
        self.buffers
            .copy_from(&job.envs.buffers, &self.ranges[p], self.obs_dim);
        Ok(())
    }

    fn step(&mut self, actions: &[f32]) -> Result<(), EnvError> {
        check_action_len(actions, self.num_envs, self.action_dim)?;
        self.run_all(Command::Step, Some(actions))
    }

    fn observations(&self) -> &[f32] {
        &self.buffers.observations
    }
    fn rewards(&self) -> &[f64] {
        &self.buffers.rewards
    }
    fn terminated(&self) -> &[bool] {
        &self.buffers.terminated
    }
    fn truncated(&self) -> &[bool] {
        &self.buffers.truncated
    }
    fn final_observations(&self) -> &[f32] {
        &self.buffers.final_observations
    }
    fn has_final_observation(&self) -> &[bool] {
        &self.buffers.has_final_observation
    }
    fn finished_episodes(&self) -> &[Option<EpisodeStats>] {
        &self.buffers.finished
    }
}
