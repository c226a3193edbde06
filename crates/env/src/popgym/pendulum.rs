//! POPGym's Pendulum variants (`position_only_pendulum.py`,
//! `noisy_position_only_pendulum.py`): Gymnasium's Pendulum dynamics (reused from
//! [`crate::classic_control::Pendulum`]) observing only `[cos theta, sin theta]`, with the
//! reward mapped from `[-16.27, 0]` to `[-1, 1] / max_episode_length`.

use super::{check_obs, Level, Phase};
use crate::classic_control::Pendulum;
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

/// POPGym's bounds of Pendulum's reward.
const REWARD_LOW: f64 = -16.2736044;
const REWARD_HIGH: f64 = 0.0;

#[derive(Clone, Debug)]
pub struct PopPendulum {
    inner: Pendulum,
    noise_sigma: Option<f64>,
    max_episode_length: usize,
    num_steps: usize,
    full_obs: [f32; 3],
    observation_space: Space,
    phase: Phase,
}

impl PopPendulum {
    /// `[cos, sin]` for 200 / 150 / 100 steps.
    pub fn position_only(level: Level) -> Self {
        Self::with_params(None, level.pick(200, 150, 100))
    }

    /// `[cos, sin]` plus noise of standard deviation 0.1 / 0.2 / 0.3, 200 steps.
    pub fn noisy_position_only(level: Level) -> Self {
        Self::with_params(Some(level.pick(0.1, 0.2, 0.3)), 200)
    }

    pub fn with_params(noise_sigma: Option<f64>, max_episode_length: usize) -> Self {
        assert!(max_episode_length > 0, "episodes need at least one step");
        PopPendulum {
            inner: Pendulum::new(10.0),
            noise_sigma,
            max_episode_length,
            num_steps: 0,
            full_obs: [0.0; 3],
            observation_space: Space::uniform_box(-1.0, 1.0, &[2]),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }

    fn write_obs(&mut self, obs: &mut [f32]) {
        obs[0] = self.full_obs[0];
        obs[1] = self.full_obs[1];
        let Some(sigma) = self.noise_sigma else {
            return;
        };
        let mut noise = [0.0f64; 2];
        if let Some(rng) = self.inner.rng_mut() {
            rng.normal_fill(0.0, sigma, &mut noise);
        }
        for i in 0..2 {
            obs[i] = (obs[i] + noise[i] as f32).clamp(-1.0, 1.0);
        }
    }
}

impl Env for PopPendulum {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        self.inner.action_space()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.observation_space)?;
        self.num_steps = 0;
        self.inner.reset(seed, &mut self.full_obs)?;
        self.write_obs(obs);
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_obs(obs, &self.observation_space)?;
        let step = self.inner.step(action, &mut self.full_obs)?;
        self.num_steps += 1;
        let truncated = step.truncated || self.num_steps >= self.max_episode_length;
        let half_range = (REWARD_HIGH - REWARD_LOW) / 2.0;
        let reward = (step.reward + half_range) / half_range / self.max_episode_length as f64;
        self.write_obs(obs);
        self.phase = Phase::after(step.terminated || truncated);
        Ok(Step {
            reward,
            terminated: step.terminated,
            truncated,
        })
    }

    /// Pendulum's `[theta, theta_dot]` (f64).
    fn state(&self) -> Option<Vec<f64>> {
        self.inner.state()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.inner.set_state(state)?;
        self.phase = Phase::Running;
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        self.inner.rng_mut()
    }
}
