//! REINFORCE (Williams 1992): Monte-Carlo policy gradient over whole episodes.
//!
//! Each update plays `workers` complete episodes one after another on one environment (each
//! reset with a seed drawn from the run's RNG) and ascends
//! `mean_t [ Psi_t * grad log pi(a_t | s_t) ]`, where `Psi_t` is
//! * with `reward_to_go` (default), the discounted return from step `t` on,
//!   `G_t = sum_{k >= t} gamma^(k-t) r_k`; otherwise the whole episode's return `G_0`;
//! * minus the learned baseline `V(s_t)` with `baseline` (default), whose head is fitted to
//!   `G_t` with `vf_coef * 0.5 * (V - G)^2`.
//!
//! The episodes are concatenated into one sequence (a [`Rollout`] with one column), with an
//! episode start flag at each episode's first step, so the existing [`Learner`] runs it
//! forward and backward through time, recurrent policies included. The mean is over all
//! steps of the batch (the usual sum over an episode's steps, divided by the batch's step
//! count: a scale Adam mostly absorbs).
//!
//! Episodes are collected here rather than by the lockstep [`crate::rollout::Collector`]
//! because REINFORCE needs complete episodes: no step of an unfinished episode can be used,
//! and none is ever left running between updates. That also makes resuming exact with nothing
//! but the RNG position saved. Truncated episodes (time limits) are treated like terminated
//! ones: the Monte-Carlo return stops there (no bootstrapping).

use crate::a3c::{local_store, write_latest, ParamStore};
use crate::policy::{Actor, ActorCritic, Learner, LossCoefs};
use crate::rollout::{step_env, CollectorState, Rollout};
use crate::runtime::{lock, Monitor, StopReason};
use crate::train::{
    collector_slots, final_reason, learning_rate, make_env, update_is_finite, Evaluator, Setup,
    Snapshot, TrainError,
};
use engram_env::Env;
use engram_nn::optim::clip_grad_norm;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Plays whole episodes with the current policy and turns them into a one-column rollout.
pub struct EpisodeCollector {
    env: Box<dyn Env>,
    actor: Actor,
    rng: ChaCha8Rng,
    obs: Vec<f32>,
    state: Vec<f32>,
    action: Vec<f32>,
    discrete: Vec<i64>,
    clipped: Vec<f32>,
    // The batch being collected, step by step.
    batch_obs: Vec<f32>,
    batch_actions: Vec<f32>,
    batch_rewards: Vec<f32>,
    batch_values: Vec<f32>,
    batch_starts: Vec<bool>,
}

impl EpisodeCollector {
    pub fn new(policy: &ActorCritic, env: Box<dyn Env>, rng_seed: u64) -> EpisodeCollector {
        EpisodeCollector {
            env,
            actor: Actor::new(policy, 1),
            rng: ChaCha8Rng::seed_from_u64(rng_seed),
            obs: vec![0.0; policy.obs_dim()],
            state: vec![0.0; policy.state_size()],
            action: vec![0.0; policy.action_dim()],
            discrete: vec![0; policy.action_dim()],
            clipped: vec![0.0; policy.action_dim()],
            batch_obs: Vec::new(),
            batch_actions: Vec::new(),
            batch_rewards: Vec::new(),
            batch_values: Vec::new(),
            batch_starts: Vec::new(),
        }
    }

    /// Plays `episodes` episodes and returns them as one rollout column with Monte-Carlo
    /// advantages and returns. `None` if the run was asked to stop mid-way.
    #[allow(clippy::too_many_arguments)]
    pub fn collect(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        monitor: &Monitor,
        episodes: usize,
        gamma: f32,
        reward_scale: f32,
        baseline: bool,
        reward_to_go: bool,
    ) -> Result<Rollout, TrainError> {
        for buf in [&mut self.batch_obs, &mut self.batch_actions] {
            buf.clear();
        }
        self.batch_rewards.clear();
        self.batch_values.clear();
        self.batch_starts.clear();
        let mut value = [0.0f32];
        for _ in 0..episodes {
            let seed = self.rng.gen::<u64>() >> 1;
            self.env.reset(Some(seed), &mut self.obs)?;
            self.state.fill(0.0);
            self.actor.reset_noise();
            let (mut episode_return, mut length) = (0.0f64, 0u64);
            loop {
                self.batch_starts.push(length == 0);
                self.batch_obs.extend_from_slice(&self.obs);
                self.actor.act(
                    policy,
                    params,
                    &self.obs,
                    &mut self.state,
                    Some(&mut self.rng),
                    &mut self.action,
                    &mut value,
                );
                self.batch_actions.extend_from_slice(&self.action);
                self.batch_values.push(value[0]);
                let step = step_env(
                    &mut *self.env,
                    &policy.action_kind,
                    &self.action,
                    &mut self.discrete,
                    &mut self.clipped,
                    &mut self.obs,
                )?;
                self.batch_rewards.push(step.reward as f32 * reward_scale);
                episode_return += step.reward;
                length += 1;
                if step.terminated || step.truncated {
                    break;
                }
            }
            monitor.episode_done(episode_return, length);
        }
        let steps = self.batch_rewards.len();
        let mut rollout = Rollout::new(policy, steps, 1);
        rollout.obs.copy_from_slice(&self.batch_obs);
        rollout.actions.copy_from_slice(&self.batch_actions);
        rollout.rewards.copy_from_slice(&self.batch_rewards);
        rollout.values.copy_from_slice(&self.batch_values);
        rollout.starts.copy_from_slice(&self.batch_starts);
        monte_carlo_targets(
            &self.batch_rewards,
            &self.batch_starts,
            gamma,
            reward_to_go,
            &mut rollout.returns,
        );
        for ((a, g), v) in rollout
            .advantages
            .iter_mut()
            .zip(&rollout.returns)
            .zip(&self.batch_values)
        {
            *a = if baseline { g - v } else { *g };
        }
        Ok(rollout)
    }

    pub fn save(&self) -> CollectorState {
        CollectorState {
            rng_seed: self.rng.get_seed(),
            rng_word_pos: self.rng.get_word_pos(),
            recurrent_state: Vec::new(),
            episodes: Vec::new(),
            normalizer: None,
            normalized_obs: None,
        }
    }

    /// Between updates no episode is running: the RNG position is the whole state.
    pub fn restore(&mut self, saved: &CollectorState) {
        self.rng = ChaCha8Rng::from_seed(saved.rng_seed);
        self.rng.set_word_pos(saved.rng_word_pos);
    }
}

/// Per-step Monte-Carlo targets of concatenated episodes (`starts` marks each first step):
/// the discounted return from each step on, or with `reward_to_go = false` the episode's whole
/// discounted return at every step.
pub fn monte_carlo_targets(
    rewards: &[f32],
    starts: &[bool],
    gamma: f32,
    reward_to_go: bool,
    out: &mut [f32],
) {
    let mut g = 0.0f32;
    for t in (0..rewards.len()).rev() {
        // An episode ends where the next one starts.
        if t + 1 < rewards.len() && starts[t + 1] {
            g = 0.0;
        }
        g = rewards[t] + gamma * g;
        out[t] = g;
    }
    if !reward_to_go {
        let mut episode_return = 0.0;
        for t in 0..rewards.len() {
            if starts[t] {
                episode_return = out[t];
            }
            out[t] = episode_return;
        }
    }
}

/// Runs REINFORCE: `workers` whole episodes per update.
pub fn run(setup: Setup) -> Result<StopReason, TrainError> {
    let c = &setup.config;
    let policy = &setup.policy;
    let monitor = &setup.monitor;
    let layout = &policy.layout;
    let mut store = local_store(&setup)?;
    let mut collector = EpisodeCollector::new(policy, make_env(c)?, c.seed);
    let slots = collector_slots(1, setup.resume.as_ref().map(|r| &r.1));
    if let Some(saved) = &lock(&slots)[0] {
        collector.restore(saved);
    }
    let evaluator = Evaluator::start(c, policy.clone(), monitor.clone(), &setup.run_dir, true)?;
    let coefs = LossCoefs {
        vf_coef: if c.baseline { c.vf_coef as f32 } else { 0.0 },
        ent_coef: c.ent_coef as f32,
        normalize_advantage: c.normalize_advantage,
    };
    let mut grads = layout.zeros();
    let result: Result<(), TrainError> = (|| {
        while monitor.should_stop().is_none() {
            let rollout = collector.collect(
                policy,
                &store.params,
                monitor,
                c.workers,
                c.gamma as f32,
                c.reward_scale as f32,
                c.baseline,
                c.reward_to_go,
            )?;
            // Sized per batch: episode lengths vary (one allocation per update, not per step).
            let mut learner = Learner::new(policy, rollout.t_max, 1);
            grads.fill(0.0);
            let mut stats =
                learner.compute_gradients(policy, &store.params, &mut grads, &rollout, &coefs);
            if !c.baseline {
                stats.value_loss = 0.0;
            }
            stats.grad_norm = clip_grad_norm(&mut grads, c.max_grad_norm as f32) as f64;
            let loss = stats.policy_loss + coefs.vf_coef as f64 * stats.value_loss
                - c.ent_coef * stats.entropy;
            if !update_is_finite(monitor, loss, stats.grad_norm, monitor.env_steps()) {
                break;
            }
            let lr = learning_rate(c, monitor.progress_fraction());
            store.apply(&grads, lr as f32);
            let duties = monitor.update_done(rollout.t_max as u64, stats);
            if duties.log {
                monitor.log_row(lr);
            }
            if duties.evaluate {
                evaluator.submit(Snapshot {
                    obs_stats: None,
                    env_steps: duties.env_steps,
                    params: store.snapshot(),
                });
            }
            if duties.checkpoint {
                write_latest(&setup, &store, vec![Some(collector.save())], Vec::new())?;
            }
        }
        Ok(())
    })();
    evaluator.finish()?;
    let reason = final_reason(monitor);
    result?;
    if reason != StopReason::Failed {
        write_latest(&setup, &store, vec![Some(collector.save())], Vec::new())?;
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monte_carlo_targets_by_hand() {
        // Two episodes: [1, 2, 3] and [4, 5]; gamma 0.5.
        let rewards = [1.0, 2.0, 3.0, 4.0, 5.0];
        let starts = [true, false, false, true, false];
        let mut out = [0.0; 5];
        monte_carlo_targets(&rewards, &starts, 0.5, true, &mut out);
        // G2 = 3, G1 = 2 + 1.5 = 3.5, G0 = 1 + 1.75 = 2.75; G4 = 5, G3 = 4 + 2.5 = 6.5.
        assert_eq!(out, [2.75, 3.5, 3.0, 6.5, 5.0]);
        monte_carlo_targets(&rewards, &starts, 0.5, false, &mut out);
        assert_eq!(out, [2.75, 2.75, 2.75, 6.5, 6.5]);
    }
}
