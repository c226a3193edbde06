//! PPO and A2C across machines (`engram.distributed`): remote collectors ship rollouts to one
//! learner (not DD-PPO's gradient averaging: one transfer per rollout instead of a
//! synchronous exchange per minibatch). Not an algorithm: like the registry, it names the two
//! algorithms whose learner halves it drives.
//!
//! The run's `n_envs` environments are split evenly over `num_workers` [`RolloutWorker`]s:
//! worker `w` steps `n_envs / num_workers` of them with RNG stream seed + `w` (one worker is
//! the local run's collector exactly). Each collects `t_max` steps with the parameters it was
//! sent and returns the rollout as one flat `f32` buffer ([`Rollout::pack`]). The
//! [`RolloutLearner`] places the workers' rollouts side by side as the columns of one
//! rollout, computes GAE and runs the algorithm's own update ([`ppo::PpoUpdate`],
//! [`a2c::GradientStep::gradient`] + [`a2c::apply_update`]): the same arithmetic as a local
//! run. Collection is synchronous: every rollout of an update was collected with the
//! parameters of the version the learner sent, so none is stale.

use super::{a2c, ppo, RunConfig};
use crate::agent::ActorCritic;
use crate::error::TrainError;
use crate::onpolicy::{Collector, Rollout};
use crate::runtime::{
    lock, CheckpointParts, LearnerRun, LocalStore, ParamStore, Session, StopReason, Tensor,
};
use std::sync::{Arc, Mutex};

/// The algorithm's learner half and its options.
enum Update {
    Ppo(ppo::Config, ppo::PpoUpdate),
    A2c(a2c::GradientStep),
}

/// The rollout settings both algorithms share.
struct Shape {
    n_envs: usize,
    t_max: usize,
    gamma: f64,
    gae_lambda: f64,
    reward_scale: f64,
}

/// The rollout settings of a distributed PPO or A2C run; refuses what it does not support.
fn remote_shape(rc: &RunConfig) -> Result<Shape, TrainError> {
    let (shape, normalizes) = if let Some(c) = rc.algo::<ppo::Config>() {
        let shape = Shape {
            n_envs: c.n_envs,
            t_max: c.t_max,
            gamma: c.gamma,
            gae_lambda: c.gae_lambda,
            reward_scale: c.reward_scale,
        };
        (shape, c.normalize_observations || c.normalize_rewards)
    } else if let Some(c) = rc.algo::<a2c::Config>() {
        let shape = Shape {
            n_envs: c.n_envs,
            t_max: c.t_max,
            gamma: c.gamma,
            gae_lambda: c.gae_lambda,
            reward_scale: c.reward_scale,
        };
        (shape, c.normalize_observations || c.normalize_rewards)
    } else {
        return Err(TrainError::Usage(format!(
            "training across machines runs a3c, ppo or a2c, not {}",
            rc.common.algo
        )));
    };
    if normalizes {
        return Err(TrainError::Usage(
            "normalize_observations and normalize_rewards are not supported across machines yet \
             (each worker would keep its own statistics): set them to false"
                .into(),
        ));
    }
    Ok(shape)
}

/// Checks that `rc` can run across machines with `num_workers` collectors.
pub fn check_remote(rc: &RunConfig, num_workers: usize) -> Result<(), TrainError> {
    envs_per_worker(&remote_shape(rc)?, num_workers).map(|_| ())
}

fn envs_per_worker(shape: &Shape, num_workers: usize) -> Result<usize, TrainError> {
    if num_workers == 0 || !shape.n_envs.is_multiple_of(num_workers) {
        return Err(TrainError::Usage(format!(
            "n_envs = {} environments cannot be split evenly over {num_workers} workers: \
             n_envs is the run's total, each worker steps n_envs / workers of them \
             (e.g. --set n_envs={})",
            shape.n_envs,
            num_workers.max(1) * shape.n_envs.div_ceil(num_workers.max(1)).max(1)
        )));
    }
    Ok(shape.n_envs / num_workers)
}

/// A checkpoint of a distributed run: parameters, optimizer statistics and the algorithm's
/// extra tensors. The workers' environments are not in it: a resumed run starts fresh episodes.
fn checkpoint_parts(store: &dyn ParamStore, extra: Vec<Tensor>) -> CheckpointParts {
    CheckpointParts {
        params: store.snapshot(),
        optimizers: store.optimizer_states(),
        extra,
        ..CheckpointParts::default()
    }
}

/// The learner of a distributed PPO or A2C run: the parameters, the optimizer, the
/// algorithm's update and the run (directory, metrics, evaluator, checkpoints: a local run's,
/// so either trainer resumes the other's run).
pub struct RolloutLearner {
    run: LearnerRun<RunConfig>,
    policy: Arc<ActorCritic>,
    store: LocalStore,
    rollout: Rollout,
    update: Update,
    gamma: f32,
    gae_lambda: f32,
}

impl RolloutLearner {
    /// Starts the learner on an opened run (fresh or resumed).
    pub fn new(mut session: Session, rc: RunConfig) -> Result<RolloutLearner, TrainError> {
        let shape = remote_shape(&rc)?;
        let policy = super::actor_critic(&rc, &*rc.common.make_env()?)?;
        let store = session.local_store(&policy.layout, &rc.optim)?;
        let update = if let Some(c) = rc.algo::<ppo::Config>() {
            Update::Ppo(c.clone(), ppo::PpoUpdate::new(&session, &rc, c, &policy))
        } else if let Some(c) = rc.algo::<a2c::Config>() {
            let step = a2c::GradientStep::new(&policy, c, rc.optim.max_grad_norm, c.n_envs);
            Update::A2c(step)
        } else {
            unreachable!("remote_shape accepts PPO and A2C only")
        };
        session.start(policy.clone(), true)?;
        Ok(RolloutLearner {
            rollout: Rollout::new(&policy, shape.t_max, shape.n_envs),
            run: LearnerRun::new(session, rc, policy.layout.len()),
            policy,
            store,
            update,
            gamma: shape.gamma as f32,
            gae_lambda: shape.gae_lambda as f32,
        })
    }

    pub fn run(&self) -> &LearnerRun<RunConfig> {
        &self.run
    }

    /// Copies the current parameters into `out` and returns their version; false (and the
    /// run stops with a message) when one is not finite.
    pub fn read_params(&self, out: &mut [f32]) -> Result<(u64, bool), TrainError> {
        self.run.read_params(out, |out| self.store.read(out))
    }

    /// One update from the workers' packed rollouts, all collected with this version's
    /// parameters, in worker order (worker `w`'s environments become columns
    /// `w * n_envs / workers..`), after recording their finished episodes (return, length).
    /// False when the update was refused as non-finite (the run then stops).
    pub fn learn(
        &mut self,
        rollouts: &[&[f32]],
        episodes: &[(f64, u64)],
    ) -> Result<bool, TrainError> {
        let n_envs = self.rollout.n_envs;
        if rollouts.is_empty() || !n_envs.is_multiple_of(rollouts.len()) {
            return Err(TrainError::Usage(format!(
                "{} rollouts for n_envs = {n_envs}: give one per worker, n_envs divisible by their number",
                rollouts.len()
            )));
        }
        let per = n_envs / rollouts.len();
        for (w, buf) in rollouts.iter().enumerate() {
            self.rollout
                .unpack_columns(buf, w * per, per)
                .map_err(|e| TrainError::Usage(format!("worker {w}: {e}")))?;
        }
        self.run.record_episodes(episodes);
        self.rollout.compute_advantages(self.gamma, self.gae_lambda);
        let RolloutLearner {
            run,
            policy,
            store,
            rollout,
            update,
            ..
        } = self;
        let (session, rc) = (run.session(), run.config());
        let applied = match update {
            Update::Ppo(c, ppo) => {
                let parts = |store: &LocalStore, extra| checkpoint_parts(store, extra);
                ppo.learn(session, rc, c, policy, store, rollout, &parts)?
            }
            Update::A2c(step) => {
                let computed = step.gradient(policy, &store.params, rollout);
                let parts = |store: &dyn ParamStore| checkpoint_parts(store, Vec::new());
                a2c::apply_update(session, rc, store, &step.grads, &computed, &parts)?
            }
        };
        Ok(self.run.count_update(applied))
    }

    /// Ends the run: waits for the evaluator and writes the final checkpoint.
    pub fn finish(self) -> Result<(Session, StopReason), TrainError> {
        let extra = match &self.update {
            Update::Ppo(_, ppo) => ppo.extra(),
            Update::A2c(..) => Vec::new(),
        };
        let store = &self.store;
        let mut session = self.run.into_session();
        let reason = session.finish(Ok(()), || checkpoint_parts(store, extra.clone()))?;
        Ok((session, reason))
    }
}

/// A remote collector of a distributed PPO or A2C run: `n_envs / num_workers` environments,
/// RNG stream seed + `stream`, and the buffers of one rollout.
pub struct RolloutWorker {
    policy: Arc<ActorCritic>,
    collector: Collector,
    rollout: Rollout,
    episodes: Mutex<Vec<(f64, u64)>>,
    packed: Vec<f32>,
    gamma: f32,
    gae_lambda: f32,
}

impl RolloutWorker {
    pub fn new(
        rc: &RunConfig,
        num_workers: usize,
        stream: u64,
    ) -> Result<RolloutWorker, TrainError> {
        let shape = remote_shape(rc)?;
        let per = envs_per_worker(&shape, num_workers)?;
        let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
        let envs = (0..per)
            .map(|_| rc.common.make_env())
            .collect::<Result<Vec<_>, _>>()?;
        let seed = rc.common.seed.wrapping_add(stream);
        let collector = Collector::new(&policy, envs, seed, shape.reward_scale as f32)?;
        Ok(RolloutWorker {
            rollout: Rollout::new(&policy, shape.t_max, per),
            policy,
            collector,
            episodes: Mutex::new(Vec::new()),
            packed: Vec::new(),
            gamma: shape.gamma as f32,
            gae_lambda: shape.gae_lambda as f32,
        })
    }

    pub fn num_params(&self) -> usize {
        self.policy.layout.len()
    }

    /// Environment steps in one rollout.
    pub fn steps(&self) -> u64 {
        (self.rollout.t_max * self.rollout.n_envs) as u64
    }

    /// Collects `t_max` steps of its environments with `params`; [`RolloutWorker::packed`]
    /// then holds the rollout. Returns the episodes that finished (return, length).
    pub fn collect(&mut self, params: &[f32]) -> Result<Vec<(f64, u64)>, TrainError> {
        if params.len() != self.num_params() {
            return Err(TrainError::Usage(format!(
                "a parameter buffer of {} numbers for a network of {}: the learner runs \
                 another configuration",
                params.len(),
                self.num_params()
            )));
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(TrainError::Policy(format!(
                "parameter {i} received from the learner is {}",
                params[i]
            )));
        }
        self.collector.collect(
            &self.policy,
            params,
            &mut self.rollout,
            &self.episodes,
            self.gamma,
            self.gae_lambda,
        )?;
        self.rollout.pack(&mut self.packed);
        Ok(std::mem::take(&mut *lock(&self.episodes)))
    }

    /// The packed rollout of the last [`RolloutWorker::collect`].
    pub fn packed(&self) -> &[f32] {
        &self.packed
    }
}
