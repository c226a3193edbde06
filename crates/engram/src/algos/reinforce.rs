//! REINFORCE (Williams 1992): Monte-Carlo policy gradient over whole episodes.
//!
//! Each update plays `episodes_per_update` complete episodes one after another on one environment (each
//! reset with a seed drawn from the run's RNG) and ascends
//! `mean_t [ Psi_t * grad log pi(a_t | s_t) ]`, where `Psi_t` is
//! * with `reward_to_go` (default), the discounted return from step `t` on,
//!   `G_t = sum_{k >= t} gamma^(k-t) r_k`; otherwise the whole episode's return `G_0`;
//! * minus the learned baseline `V(s_t)` with `baseline` (default), whose head is fitted to
//!   `G_t` with `vf_coef * 0.5 * (V - G)^2`.
//!
//! The episodes are concatenated into one sequence (a [`Rollout`] with one column), with an
//! episode start flag at each episode's first step, so the policy-gradient [`Learner`] runs it
//! forward and backward through time, recurrent policies included. The mean is over all
//! steps of the batch (the usual sum over an episode's steps, divided by the batch's step
//! count: a scale Adam mostly absorbs).
//!
//! Episodes come from the whole-episode collector ([`EpisodeCollector`]): REINFORCE needs
//! complete episodes, and resuming is exact with nothing but its RNG position saved.
//! Truncated episodes (time limits) are treated like terminated ones: the Monte-Carlo return
//! stops there (no bootstrapping).

use super::RunConfig;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::onpolicy::collector::{collector_json, saved_collector};
use crate::onpolicy::episodes::EpisodeCollector;
use crate::onpolicy::pg_loss::{Learner, LossCoefs};
use crate::runtime::{CheckpointParts, LocalStore, ParamStore, Session, StopReason};
use engram_nn::optim::clip_grad_norm;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "reinforce";
pub const DESCRIPTION: &str =
    "REINFORCE: Monte-Carlo policy gradient over whole episodes, optional value baseline";
pub const ACTOR_CRITIC: bool = true;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub episodes_per_update: usize,
    pub gamma: f64,
    pub baseline: bool,
    pub reward_to_go: bool,
    pub normalize_advantage: bool,
    pub vf_coef: f64,
    pub ent_coef: f64,
    pub reward_scale: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            episodes_per_update: 4,
            gamma: 0.99,
            baseline: true,
            reward_to_go: true,
            normalize_advantage: true,
            vf_coef: 0.5,
            ent_coef: 0.01,
            reward_scale: 1.0,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::count(
            "episodes_per_update",
            self.episodes_per_update,
            10_000,
            "episodes held in memory for one update",
        )?;
        check::unit("gamma", self.gamma, false)?;
        check::non_negative("vf_coef", self.vf_coef)?;
        check::non_negative("ent_coef", self.ent_coef)?;
        check::positive("reward_scale", self.reward_scale)
    }
}

impl super::Algorithm for Config {}

/// Runs REINFORCE: `episodes_per_update` whole episodes per update.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let mut store = session.local_store(&policy.layout, &rc.optim)?;
    let mut collector = EpisodeCollector::new(&policy, rc.common.make_env()?, rc.common.seed);
    if let Some(saved) = saved_collector(&session, 0)? {
        collector.restore(&saved);
    }
    session.start(policy.clone(), true)?;
    let coefs = LossCoefs {
        vf_coef: if c.baseline { c.vf_coef as f32 } else { 0.0 },
        ent_coef: c.ent_coef as f32,
        normalize_advantage: c.normalize_advantage,
    };
    let lr_schedule = rc.optim.lr();
    let parts = |store: &LocalStore, collector: &EpisodeCollector| CheckpointParts {
        params: store.snapshot(),
        optimizers: store.optimizer_states(),
        collectors: vec![collector_json(&collector.save())],
        ..CheckpointParts::default()
    };
    let mut grads = policy.layout.zeros();
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let rollout = collector.collect(
                &policy,
                &store.params,
                &session.monitor,
                c.episodes_per_update,
                c.gamma as f32,
                c.reward_scale as f32,
                c.baseline,
                c.reward_to_go,
            )?;
            // Sized per batch: episode lengths vary (one allocation per update, not per step).
            let mut learner = Learner::new(&policy, rollout.t_max, 1);
            grads.fill(0.0);
            let mut stats =
                learner.compute_gradients(&policy, &store.params, &mut grads, &rollout, &coefs);
            if !c.baseline {
                stats.value_loss = 0.0;
            }
            let grad_norm = clip_grad_norm(&mut grads, rc.optim.max_grad_norm as f32) as f64;
            if !session.update_is_finite(stats.loss(&coefs), grad_norm) {
                break;
            }
            let lr = lr_schedule.value(session.monitor.progress_fraction());
            store.apply(&grads, lr as f32);
            if !session.params_are_finite(&store.params) {
                break;
            }
            session.after_update(
                rollout.t_max as u64,
                &stats.metrics(grad_norm, lr),
                &mut || parts(&store, &collector),
            )?;
        }
        Ok(())
    })();
    session.finish(result, || parts(&store, &collector))
}
