//! Episodic multi-armed bandit: each episode draws new payout probabilities; the observation
//! is only whether the pulled arm paid out (POPGym's `multiarmed_bandit.py`).

use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct MultiarmedBandit {
    /// Payout probabilities, `float32` as POPGym draws them.
    bandits: Vec<f32>,
    num_steps: usize,
    max_episode_length: usize,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl MultiarmedBandit {
    pub const DESCRIPTION: &'static str = "find and exploit the best-paying arm";

    /// Easy: 10 arms, 200 steps; Medium: 20 arms, 400 steps; Hard: 30 arms, 600 steps.
    pub fn new(level: Level) -> Self {
        let (arms, length) = level.pick((10, 200), (20, 400), (30, 600));
        Self::with_params(arms, length)
    }

    pub fn with_params(num_bandits: usize, episode_length: usize) -> Self {
        assert!(num_bandits > 0 && episode_length > 0, "need arms and steps");
        MultiarmedBandit {
            bandits: vec![0.0; num_bandits],
            num_steps: 0,
            max_episode_length: episode_length,
            observation_space: Space::discrete(2),
            action_space: Space::discrete(num_bandits as u64),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }

    /// The arms' payout probabilities this episode (POPGym's `info["bandits"]`).
    pub fn bandits(&self) -> &[f32] {
        &self.bandits
    }
}

impl Env for MultiarmedBandit {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.observation_space)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.num_steps = 0;
        self.rng.random_f32_fill(&mut self.bandits);
        obs[0] = 0.0;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let arm = discrete(action) as usize;
        let paid = self.rng.random() < self.bandits[arm] as f64;
        let reward = if paid { 1.0 } else { -1.0 } / self.max_episode_length as f64;
        let truncated = self.num_steps >= self.max_episode_length - 1;
        self.num_steps += 1;
        obs[0] = paid as u8 as f32;
        self.phase = Phase::after(truncated);
        Ok(Step {
            reward,
            terminated: false,
            truncated,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
