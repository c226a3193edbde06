//! The loop SAC, TD3 and DDPG share (SB3's `OffPolicyAlgorithm.learn`); each algorithm is a
//! [`Learner`]: how it acts and its gradient step.
//!
//! 1. Collect `train_freq` lockstep steps of all `n_envs` environments: uniformly random
//!    actions until `learning_starts` env steps, then the learner's; action noise (if any) is
//!    added in [-1, 1] and clipped (SB3 adds it during the warm-up too); the [-1, 1] action
//!    goes into the replay buffer, its rescaling to the Box bounds to the environment.
//! 2. Once past `learning_starts`, `gradient_steps` gradient steps (-1: as many as env steps
//!    were collected) on uniformly sampled batches of `batch_size` transitions.
//!
//! Checkpoints: the learner's parameters, optimizers and tensors (target networks), and one
//! JSON state (stepper, action noise, counters, the learner's own); the replay buffer only with
//! `save_replay_buffer`, which makes `--resume` exact. Without it a resumed run refills: gradient
//! steps pause until the buffer holds `learning_starts` transitions (at least one batch).

use super::exploration::{ActionNoise, NoiseKind};
use super::replay::{Batch, ReplayBuffer, ReplayState};
use super::stepper::{Stepper, StepperState};
use crate::agent::continuous::{random_actions, PolicyHead, QActorCritic};
use crate::agent::Act;
use crate::config::{check, invalid, CommonConfig, ConfigError, OptimConfig};
use crate::error::TrainError;
use crate::runtime::checkpoint::Checkpoint;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason, Tensor};
use engram_nn::optim::OptimizerState;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// The largest `batch_size` (published recipes use 64-512).
pub const MAX_BATCH: usize = 8192;
/// The most lockstep environments (the algorithms' registry says the same).
pub const MAX_ENVS: usize = 4096;

/// `layers`, or `fallback` (the network's `encoder_layers`) when empty.
pub fn layers_or<'a>(layers: &'a [usize], fallback: &'a [usize]) -> &'a [usize] {
    if layers.is_empty() {
        fallback
    } else {
        layers
    }
}

/// The checks SAC, TD3 and DDPG share (each error names the key and the fix).
#[allow(clippy::too_many_arguments)]
pub fn validate_loop(
    n_envs: usize,
    buffer_size: usize,
    batch_size: usize,
    tau: f64,
    gamma: f64,
    train_freq: u64,
    gradient_steps: i64,
    noise_std: f64,
    ou_theta: f64,
) -> Result<(), ConfigError> {
    crate::config::check::count("n_envs", n_envs, MAX_ENVS, "environments in one process")?;
    check::at_least_one("buffer_size", buffer_size)?;
    check::count(
        "batch_size",
        batch_size,
        MAX_BATCH,
        "transitions per gradient step",
    )?;
    check::unit("tau", tau, true)?;
    check::unit("gamma", gamma, false)?;
    if train_freq == 0 {
        return Err(invalid("train_freq", "must be at least 1"));
    }
    if !(-1..=10_000).contains(&gradient_steps) {
        return Err(invalid(
            "gradient_steps",
            format!(
                "must be 0-10000 per collection, or -1 for as many as env steps collected; got {gradient_steps}"
            ),
        ));
    }
    if !(noise_std.is_finite() && noise_std >= 0.0) {
        return Err(invalid(
            "noise_std",
            format!("must be zero or positive (the noise's standard deviation in [-1, 1] action units), got {noise_std}"),
        ));
    }
    check::non_negative("ou_theta", ou_theta)
}

/// The loop's options (the algorithms' `Config`s hold them under SB3's names).
#[derive(Clone, Debug)]
pub struct LoopConfig {
    pub n_envs: usize,
    pub buffer_size: usize,
    pub learning_starts: u64,
    pub batch_size: usize,
    pub gamma: f64,
    pub train_freq: u64,
    pub gradient_steps: i64,
    pub save_replay_buffer: bool,
    pub action_noise: NoiseKind,
    pub noise_std: f64,
    pub ou_theta: f64,
}

/// Checks an update before it is applied and the parameters after (the run's [`Session`]
/// stops training on NaN/inf; benchmarks check nothing).
pub trait Guard {
    fn update_is_finite(&self, loss: f64, grad_norm: f64) -> bool;
    fn params_are_finite(&self, params: &[f32]) -> bool;
}

impl Guard for Session {
    fn update_is_finite(&self, loss: f64, grad_norm: f64) -> bool {
        Session::update_is_finite(self, loss, grad_norm)
    }
    fn params_are_finite(&self, params: &[f32]) -> bool {
        Session::params_are_finite(self, params)
    }
}

/// A [`Guard`] that lets everything through.
pub struct NoGuard;

impl Guard for NoGuard {
    fn update_is_finite(&self, _: f64, _: f64) -> bool {
        true
    }
    fn params_are_finite(&self, _: &[f32]) -> bool {
        true
    }
}

/// What an algorithm adds to the loop.
pub trait Learner {
    fn agent(&self) -> Arc<QActorCritic>;
    /// Restores the learner's own state after its tensors were read (resume).
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String>;
    /// Before each collection (gSDE redraws its exploration matrices there).
    fn start_collection(&mut self, _rng: &mut ChaCha8Rng) {}
    /// Whether the policy acts before `learning_starts` instead of uniform random actions
    /// (SB3's `use_sde_at_warmup`).
    fn acts_during_warmup(&self) -> bool {
        false
    }
    /// Policy actions for `obs` (`n_envs` rows), in [-1, 1] (indices for Discrete).
    fn act(&mut self, obs: &[f32], rng: &mut ChaCha8Rng, out: &mut [f32]);
    /// Names of the metrics a gradient step adds up (averaged per collection).
    fn metric_names(&self) -> &'static [&'static str];
    /// One gradient step; adds each metric it measured into `sums` as `(value, 1)`. False: a
    /// non-finite update stopped training (the session was told).
    fn gradient_step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool;
    fn params(&self) -> &[f32];
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)>;
    /// Tensors of its own (target networks).
    fn tensors(&self) -> Vec<Tensor>;
    fn state(&self) -> serde_json::Value;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LoopState {
    stepper: StepperState,
    noise: ActionNoise,
    replay: Option<ReplayState>,
    /// Gradient steps wait until the buffer holds this many transitions (a resumed run
    /// without its saved buffer refills first).
    refill_until: usize,
    learner: serde_json::Value,
}

const REPLAY: &str = "replay";

/// Reads tensors `prefix.<name>` of the checkpoint being resumed from.
pub fn prefixed_tensors(ckpt: &Checkpoint, prefix: &str) -> Vec<(String, Vec<f32>)> {
    ckpt.tensors
        .iter()
        .filter_map(|t| {
            t.name
                .strip_prefix(prefix)
                .map(|n| (n.to_string(), t.data.clone()))
        })
        .collect()
}

/// Runs the loop until the session stops it.
pub fn run(
    mut session: Session,
    common: &CommonConfig,
    optim: &OptimConfig,
    c: &LoopConfig,
    learner: &mut dyn Learner,
) -> Result<StopReason, TrainError> {
    let agent = learner.agent();
    let obs_dim = agent.obs_dim();
    let action_dim = agent.action_dim();
    let continuous = agent.head != PolicyHead::Categorical;
    let envs = (0..c.n_envs)
        .map(|_| common.make_env())
        .collect::<Result<Vec<_>, _>>()?;
    let mut stepper = Stepper::new(envs, agent.action_kind().clone(), obs_dim, common.seed)?;
    let mut buffer = ReplayBuffer::new(c.buffer_size, c.n_envs, obs_dim, action_dim)
        .map_err(TrainError::Usage)?;
    let mut noise = ActionNoise::new(
        if continuous {
            c.action_noise
        } else {
            NoiseKind::None
        },
        c.noise_std as f32,
        c.ou_theta as f32,
        c.n_envs,
        action_dim,
    );
    let mut refill_until = 0usize;
    if let Some(r) = &session.resume {
        let saved = saved_state(&r.state.collectors, &r.path)?;
        stepper.restore(&saved.stepper)?;
        noise = saved.noise;
        refill_until = saved.refill_until;
        learner
            .restore(&saved.learner)
            .map_err(|e| TrainError::Usage(format!("{}: {e}", r.path.display())))?;
        match (&saved.replay, c.save_replay_buffer) {
            (Some(state), true) => {
                let arrays = prefixed_tensors(&r.checkpoint, &format!("{REPLAY}."));
                buffer =
                    ReplayBuffer::restore(state.clone(), &arrays).map_err(TrainError::Usage)?;
            }
            _ => {
                refill_until = (c.learning_starts as usize).max(c.batch_size);
                session.monitor.progress.println(&format!(
                    "the replay buffer was not saved (save_replay_buffer = false): it refills from \
                     empty, and learning waits for {refill_until} transitions"
                ));
            }
        }
    }
    session.start(agent.clone(), true)?;
    let lr_schedule = optim.lr();
    let mut batch = Batch::new(c.batch_size, obs_dim, action_dim);
    let mut scaled = vec![0.0f32; c.n_envs * action_dim];
    let mut env_actions = vec![0.0f32; c.n_envs * action_dim];
    let mut obs_before = vec![0.0f32; c.n_envs * obs_dim];
    let names = learner.metric_names();
    let mut sums = vec![(0.0f64, 0u64); names.len()];
    let total = common.total_steps as f64;
    let monitor = session.monitor.clone();

    let parts = |learner: &dyn Learner,
                 stepper: &Stepper,
                 noise: &ActionNoise,
                 buffer: &ReplayBuffer,
                 refill_until: usize| {
        let mut extra = learner.tensors();
        let saving = c.save_replay_buffer;
        if saving {
            for (name, data) in buffer.arrays() {
                extra.push(Tensor {
                    name: format!("{REPLAY}.{name}"),
                    shape: vec![data.len()],
                    data: data.to_vec(),
                });
            }
        }
        let state = LoopState {
            stepper: stepper.save(),
            noise: noise.clone(),
            replay: saving.then(|| buffer.state()),
            refill_until,
            learner: learner.state(),
        };
        CheckpointParts {
            params: learner.params().to_vec(),
            optimizers: learner.optimizer_states(),
            extra,
            collectors: vec![serde_json::to_value(state).ok()],
            obs_stats: None,
        }
    };

    let result: Result<(), TrainError> = (|| {
        while session.running() {
            // 1. Collect train_freq lockstep steps.
            let mut steps = 0u64;
            let mut timesteps = monitor.env_steps();
            learner.start_collection(&mut stepper.rng);
            while steps < c.train_freq {
                obs_before.copy_from_slice(stepper.obs());
                if timesteps < c.learning_starts && !learner.acts_during_warmup() {
                    random_actions(&agent, &mut stepper.rng, &mut scaled);
                } else {
                    learner.act(&obs_before, &mut stepper.rng, &mut scaled);
                }
                if continuous {
                    noise.apply(&mut stepper.rng, &mut scaled);
                    agent.unscale(&scaled, &mut env_actions);
                } else {
                    env_actions.copy_from_slice(&scaled);
                }
                stepper.step(&env_actions, &monitor)?;
                buffer.add(
                    &obs_before,
                    &stepper.next_obs,
                    &scaled,
                    &stepper.rewards,
                    &stepper.terminated,
                    &stepper.truncated,
                );
                for e in 0..c.n_envs {
                    if stepper.terminated[e] || stepper.truncated[e] {
                        noise.reset(e);
                    }
                }
                steps += 1;
                timesteps += c.n_envs as u64;
                if !session.running() || monitor.should_stop().is_some() {
                    break;
                }
            }
            // 2. Gradient steps.
            let lr = lr_schedule.value(timesteps as f64 / total);
            let gradient_steps = if c.gradient_steps >= 0 {
                c.gradient_steps as u64
            } else {
                steps * c.n_envs as u64
            };
            let learning = timesteps > c.learning_starts
                && buffer.len() >= refill_until.max(1)
                && gradient_steps > 0;
            sums.fill((0.0, 0));
            if learning {
                refill_until = 0;
                for _ in 0..gradient_steps {
                    buffer.sample_uniform(
                        c.batch_size,
                        1,
                        c.gamma as f32,
                        &mut stepper.rng,
                        &mut batch,
                    );
                    if !learner.gradient_step(
                        &batch,
                        &mut stepper.rng,
                        lr as f32,
                        &session,
                        &mut sums,
                    ) {
                        return Ok(());
                    }
                }
            }
            let k = gradient_steps as f64;
            let mut metrics: Vec<Metric> = names
                .iter()
                .zip(&sums)
                .map(|(name, &(sum, count))| {
                    Metric::mean(
                        name,
                        if count > 0 {
                            sum / count as f64
                        } else {
                            f64::NAN
                        },
                    )
                })
                .collect();
            metrics.push(Metric::mean(
                "gradient_steps",
                if learning { k } else { 0.0 },
            ));
            metrics.push(Metric::last("learning_rate", lr));
            session.after_update(steps * c.n_envs as u64, &metrics, &mut || {
                parts(learner, &stepper, &noise, &buffer, refill_until)
            })?;
        }
        Ok(())
    })();
    session.finish(result, || {
        parts(learner, &stepper, &noise, &buffer, refill_until)
    })
}

fn saved_state(
    collectors: &[Option<serde_json::Value>],
    path: &Path,
) -> Result<LoopState, TrainError> {
    collectors
        .first()
        .cloned()
        .flatten()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| TrainError::Usage(format!("{}: unreadable run state: {e}", path.display())))?
        .ok_or_else(|| TrainError::Usage(format!("{} holds no run state", path.display())))
}

/// `target <- (1 - tau) * target + tau * online` (SB3's `polyak_update`; `tau = 1`: a copy).
pub fn polyak(target: &mut [f32], online: &[f32], tau: f32) {
    if tau >= 1.0 {
        target.copy_from_slice(online);
    } else {
        for (t, &o) in target.iter_mut().zip(online) {
            *t = *t * (1.0 - tau) + tau * o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polyak_is_exact() {
        let mut t = vec![0.0f32, 1.0, -2.0];
        polyak(&mut t, &[1.0, 3.0, 2.0], 0.25);
        assert_eq!(t, vec![0.25, 1.5, -1.0]);
        let tau = 0.005f32;
        let mut t = vec![0.3f32];
        polyak(&mut t, &[0.7], tau);
        assert_eq!(t[0], 0.3f32 * (1.0 - tau) + tau * 0.7f32);
        polyak(&mut t, &[0.7], 1.0);
        assert_eq!(t, vec![0.7]);
    }
}
