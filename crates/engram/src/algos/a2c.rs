//! A2C (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning", the
//! synchronous variant; SB3's A2C): `n_envs` environments stepped in lockstep for `t_max`
//! steps, n-step/GAE advantages, one batched update of
//! `policy loss + vf_coef * value loss - ent_coef * entropy` backpropagated through time,
//! global-norm clipping, apply.
//!
//! [`learn`] is also A3C's loop (`a3c.rs`, a named variant): there each worker runs it with
//! one environment against the shared Hogwild parameters.

use super::RunConfig;
use crate::agent::ActorCritic;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::onpolicy::collector::{checkpoint_parts, open_collector, Collector};
use crate::onpolicy::pg_loss::{Learner, LossCoefs, PgStats};
use crate::onpolicy::{CollectorState, Normalizer, Rollout};
use crate::runtime::{CheckpointParts, EpisodeSink, ParamStore, Session, StopReason};
use engram_nn::optim::{clip_scale, global_norm, scale_grads};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "a2c";
pub const DESCRIPTION: &str =
    "Advantage Actor-Critic: N environments in lockstep, one batched update";
pub const ACTOR_CRITIC: bool = true;

/// A2C's options (A3C's are the same, with worker threads instead of lockstep environments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub t_max: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub vf_coef: f64,
    pub ent_coef: f64,
    pub reward_scale: f64,
    pub normalize_observations: bool,
    pub normalize_rewards: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_envs: super::available_cores(),
            // The A3C paper's rollout length and n-step returns.
            t_max: 20,
            gamma: 0.99,
            gae_lambda: 1.0,
            vf_coef: 0.5,
            ent_coef: 0.01,
            reward_scale: 1.0,
            normalize_observations: false,
            normalize_rewards: false,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        super::check_n_envs(self.n_envs)?;
        self.validate_loop()
    }

    /// The checks A3C shares.
    pub fn validate_loop(&self) -> Result<(), ConfigError> {
        check::count("t_max", self.t_max, super::MAX_ROLLOUT, "steps per rollout")?;
        check::unit("gamma", self.gamma, false)?;
        check::unit("gae_lambda", self.gae_lambda, false)?;
        check::non_negative("vf_coef", self.vf_coef)?;
        check::non_negative("ent_coef", self.ent_coef)?;
        check::positive("reward_scale", self.reward_scale)
    }

    /// The normaliser asked for, for a collector of `n_envs` environments.
    pub fn normalizer(&self, policy: &ActorCritic, n_envs: usize) -> Option<Normalizer> {
        Normalizer::new(
            policy.obs_dim(),
            n_envs,
            self.normalize_observations,
            self.normalize_rewards,
            self.gamma,
        )
    }
}

/// The actor-critic learner loop, until the session says stop. `checkpoint` is asked for the
/// run's checkpoint contents when an evaluation or a checkpoint falls due (it receives this
/// loop's collector state). Returns the collector's final state.
pub fn learn(
    session: &Session,
    rc: &RunConfig,
    c: &Config,
    policy: &ActorCritic,
    store: &mut dyn ParamStore,
    collector: &mut Collector,
    checkpoint: &dyn Fn(&dyn ParamStore, &Collector) -> CheckpointParts,
) -> Result<CollectorState, TrainError> {
    let mut step = GradientStep::new(policy, c, rc.optim.max_grad_norm, collector.n_envs());
    let mut local = policy.layout.zeros();
    store.read(&mut local);
    if !session.params_are_finite(&local) {
        return Ok(collector.save());
    }
    while session.running() {
        let (computed, grad_scale) =
            step.compute_unscaled(policy, &local, collector, &*session.monitor)?;
        // The clip's scaling, the update and the next rollout's read of the parameters are
        // one pass over them (A3C's shared optimizer fuses them).
        let grads = &mut step.grads;
        let applied = update_with(
            session,
            rc,
            store,
            &computed,
            &|store| checkpoint(store, collector),
            |store, lr| store.apply_and_read(grads, grad_scale, lr, &mut local),
        )?;
        // (`params_are_finite` names the first bad value and stops the run.)
        match applied {
            None => break,
            Some(false) if !session.params_are_finite(&local) => break,
            Some(_) => {}
        }
    }
    Ok(collector.save())
}

/// One update's gradient as its worker computed it: the losses, the objective, the clipped
/// global norm, and the environment steps it took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Computed {
    pub stats: PgStats,
    pub loss: f64,
    pub grad_norm: f64,
    pub steps: u64,
}

/// A worker's half of an update: collect `t_max` steps with given parameters, compute the
/// loss gradient and clip it. A3C across machines runs it on the worker's machine and ships
/// [`GradientStep::grads`] to the learner, which runs [`apply_update`].
pub struct GradientStep {
    rollout: Rollout,
    learner: Learner,
    pub grads: Vec<f32>,
    coefs: LossCoefs,
    gamma: f32,
    gae_lambda: f32,
    max_grad_norm: f32,
    steps: u64,
}

impl GradientStep {
    pub fn new(policy: &ActorCritic, c: &Config, max_grad_norm: f64, n_envs: usize) -> Self {
        GradientStep {
            rollout: Rollout::new(policy, c.t_max, n_envs),
            learner: Learner::new(policy, c.t_max, n_envs),
            grads: policy.layout.zeros(),
            coefs: LossCoefs {
                vf_coef: c.vf_coef as f32,
                ent_coef: c.ent_coef as f32,
                normalize_advantage: false,
            },
            gamma: c.gamma as f32,
            gae_lambda: c.gae_lambda as f32,
            max_grad_norm: max_grad_norm as f32,
            steps: (c.t_max * n_envs) as u64,
        }
    }

    /// Collects a rollout with `params` (finished episodes go to `episodes`) and leaves its
    /// clipped gradient in `self.grads`.
    pub fn compute(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        collector: &mut Collector,
        episodes: &dyn EpisodeSink,
    ) -> Result<Computed, TrainError> {
        let (computed, grad_scale) = self.compute_unscaled(policy, params, collector, episodes)?;
        scale_grads(&mut self.grads, grad_scale);
        Ok(computed)
    }

    /// [`GradientStep::compute`] without the clip's scaling: `self.grads` is the raw gradient
    /// and the factor the clip would multiply it by is returned with it, for an optimizer
    /// that scales as it applies ([`ParamStore::apply_and_read`]).
    pub fn compute_unscaled(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        collector: &mut Collector,
        episodes: &dyn EpisodeSink,
    ) -> Result<(Computed, f32), TrainError> {
        collector.collect(
            policy,
            params,
            &mut self.rollout,
            episodes,
            self.gamma,
            self.gae_lambda,
        )?;
        let rollout = std::mem::take(&mut self.rollout);
        let computed = self.unscaled_gradient(policy, params, &rollout);
        self.rollout = rollout;
        Ok((
            computed,
            clip_scale(computed.grad_norm as f32, self.max_grad_norm),
        ))
    }

    /// The clipped gradient of a collected `rollout` (advantages computed) at `params`, left
    /// in `self.grads`. A2C across machines runs it on the learner with the rollouts its
    /// remote collectors sent.
    pub fn gradient(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        rollout: &Rollout,
    ) -> Computed {
        let computed = self.unscaled_gradient(policy, params, rollout);
        scale_grads(
            &mut self.grads,
            clip_scale(computed.grad_norm as f32, self.max_grad_norm),
        );
        computed
    }

    /// The gradient of `rollout` in `self.grads` before clipping; `grad_norm` its norm.
    fn unscaled_gradient(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        rollout: &Rollout,
    ) -> Computed {
        self.grads.fill(0.0);
        let stats =
            self.learner
                .compute_gradients(policy, params, &mut self.grads, rollout, &self.coefs);
        Computed {
            stats,
            loss: stats.loss(&self.coefs),
            grad_norm: global_norm(&self.grads) as f64,
            steps: self.steps,
        }
    }
}

/// The learner's half of an update: refuses a non-finite one (the monitor stops the run;
/// returns false), applies `grads` at the scheduled learning rate, then accounts the update
/// (log, evaluation, checkpoint as they fall due; `checkpoint` gives the contents).
pub fn apply_update(
    session: &Session,
    rc: &RunConfig,
    store: &mut dyn ParamStore,
    grads: &[f32],
    computed: &Computed,
    checkpoint: &dyn Fn(&dyn ParamStore) -> CheckpointParts,
) -> Result<bool, TrainError> {
    let applied = update_with(session, rc, store, computed, checkpoint, |store, lr| {
        store.apply(grads, lr)
    })?;
    Ok(applied.is_some())
}

/// [`apply_update`] with the store's step given by `apply` (called with the scheduled
/// learning rate); `None` when the update was refused as non-finite, else what `apply` gave.
fn update_with<R>(
    session: &Session,
    rc: &RunConfig,
    store: &mut dyn ParamStore,
    computed: &Computed,
    checkpoint: &dyn Fn(&dyn ParamStore) -> CheckpointParts,
    apply: impl FnOnce(&mut dyn ParamStore, f32) -> R,
) -> Result<Option<R>, TrainError> {
    if !session.update_is_finite(computed.loss, computed.grad_norm) {
        return Ok(None);
    }
    let lr = rc.optim.lr().value(session.monitor.progress_fraction());
    let applied = apply(&mut *store, lr as f32);
    session.after_update(
        computed.steps,
        &computed.stats.metrics(computed.grad_norm, lr),
        &mut || checkpoint(&*store),
    )?;
    Ok(Some(applied))
}

impl super::Algorithm for Config {
    fn normalize_observations(&self) -> bool {
        self.normalize_observations
    }
}

/// Runs A2C: `n_envs` environments in lockstep, one batched update per rollout.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let mut store = session.local_store(&policy.layout, &rc.optim)?;
    let mut collector = open_collector(
        &session,
        &rc.common,
        &policy,
        c.n_envs,
        c.reward_scale,
        c.normalizer(&policy, c.n_envs),
    )?;
    session.start(policy.clone(), true)?;
    let parts = checkpoint_parts;
    let result = learn(&session, rc, c, &policy, &mut store, &mut collector, &parts);
    let result = result.map(|_| ());
    session.finish(result, || parts(&store, &collector))
}
