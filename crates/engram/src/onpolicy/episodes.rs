//! Whole-episode collection (REINFORCE; later CEM/ES and Monte-Carlo methods): play complete
//! episodes with the current policy, each reset with a seed drawn from the collector's RNG,
//! and turn them into one rollout column with Monte-Carlo targets.
//!
//! No step of an unfinished episode can be used by these methods, and none is ever left
//! running between updates, which makes resuming exact with nothing but the RNG position
//! saved. Truncated episodes (time limits) are treated like terminated ones: the Monte-Carlo
//! return stops there (no bootstrapping).

use super::collector::CollectorState;
use super::rollout::Rollout;
use crate::agent::{step_env, Actor, ActorCritic, StepScratch};
use crate::error::TrainError;
use crate::runtime::EpisodeSink;
use engram_env::Env;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Plays whole episodes with the current policy and turns them into a one-column rollout.
/// The longest episode collected (a rollout's cap): an environment without a time limit that
/// never ends an episode is refused instead of running forever.
pub const MAX_EPISODE_STEPS: u64 = 1_000_000;

pub struct EpisodeCollector {
    env: Box<dyn Env>,
    actor: Actor,
    rng: ChaCha8Rng,
    obs: Vec<f32>,
    state: Vec<f32>,
    action: Vec<f32>,
    step_scratch: StepScratch,
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
            step_scratch: StepScratch::new(policy.action_dim()),
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
        monitor: &dyn EpisodeSink,
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
                    &mut self.step_scratch,
                    &mut self.obs,
                )?;
                self.batch_rewards.push(step.reward as f32 * reward_scale);
                episode_return += step.reward;
                length += 1;
                if step.terminated || step.truncated {
                    break;
                }
                if length >= MAX_EPISODE_STEPS {
                    return Err(TrainError::Usage(format!(
                        "an episode ran for {MAX_EPISODE_STEPS} steps without ending: REINFORCE \
                         learns from whole episodes; give the environment a time limit \
                         (env_options.max_episode_steps=N)"
                    )));
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
