//! DDPG (Lillicrap et al. 2016, "Continuous control with deep reinforcement learning") as TD3's
//! named variant, as SB3 does: one critic, the actor updated at every gradient step, no target
//! policy smoothing; Polyak targets (`tau`) and exploration noise (`action_noise = normal` or
//! `ornstein-uhlenbeck`, the paper's, with `noise_std` and `ou_theta`) in [-1, 1] units.

use super::td3;
use super::RunConfig;
use crate::agent::Act;
use crate::config::ConfigError;
use crate::error::TrainError;
use crate::offpolicy::exploration::NoiseKind;
use crate::runtime::{Session, StopReason};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "ddpg";
pub const DESCRIPTION: &str =
    "Deep Deterministic Policy Gradient (TD3 with one critic, no delay, no target smoothing)";
pub const ACTOR_CRITIC: bool = false;

/// DDPG's options, with SB3's names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub buffer_size: usize,
    pub learning_starts: u64,
    pub batch_size: usize,
    pub tau: f64,
    pub gamma: f64,
    pub train_freq: u64,
    pub gradient_steps: i64,
    pub actor_layers: Vec<usize>,
    pub critic_layers: Vec<usize>,
    pub action_noise: NoiseKind,
    pub noise_std: f64,
    pub ou_theta: f64,
    pub save_replay_buffer: bool,
}

impl Default for Config {
    fn default() -> Self {
        let t = td3::Config::default();
        Config {
            n_envs: t.n_envs,
            buffer_size: t.buffer_size,
            learning_starts: t.learning_starts,
            batch_size: t.batch_size,
            tau: t.tau,
            gamma: t.gamma,
            train_freq: t.train_freq,
            gradient_steps: t.gradient_steps,
            actor_layers: t.actor_layers,
            critic_layers: t.critic_layers,
            action_noise: t.action_noise,
            noise_std: t.noise_std,
            ou_theta: t.ou_theta,
            save_replay_buffer: t.save_replay_buffer,
        }
    }
}

impl Config {
    /// TD3's configuration that is this DDPG.
    pub fn as_td3(&self) -> td3::Config {
        td3::Config {
            n_envs: self.n_envs,
            buffer_size: self.buffer_size,
            learning_starts: self.learning_starts,
            batch_size: self.batch_size,
            tau: self.tau,
            gamma: self.gamma,
            train_freq: self.train_freq,
            gradient_steps: self.gradient_steps,
            policy_delay: 1,
            target_policy_noise: 0.0,
            target_noise_clip: 0.0,
            n_critics: 1,
            actor_layers: self.actor_layers.clone(),
            critic_layers: self.critic_layers.clone(),
            action_noise: self.action_noise,
            noise_std: self.noise_std,
            ou_theta: self.ou_theta,
            save_replay_buffer: self.save_replay_buffer,
        }
    }

    pub fn validate(&self, rc: &RunConfig) -> Result<(), ConfigError> {
        self.as_td3().validate(rc)
    }
}

impl super::Algorithm for Config {
    const EXAMPLE_ENV: &'static str = "Pendulum-v1";

    fn agent(
        &self,
        rc: &RunConfig,
        probe: &dyn engram_env::Env,
    ) -> Result<Arc<dyn Act>, TrainError> {
        Ok(td3::agent(rc, &self.as_td3(), probe, NAME)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn engram_env::Env) -> Result<(), TrainError> {
        td3::check_agent(rc, &self.as_td3(), probe, NAME)
    }
}

/// Runs DDPG.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    td3::run_as(session, rc, &c.as_td3(), NAME)
}
