//! POPGym's CartPole variants (`position_only_cartpole.py`, `velocity_only_cartpole.py`,
//! `noisy_position_only_cartpole.py`): Gymnasium's CartPole dynamics (reused from
//! [`crate::classic_control::CartPole`]) with half the state hidden, an episode limit of its
//! own, and rewards rescaled to `1 / max_episode_length` per step.

use super::{check_obs, Level, Phase};
use crate::classic_control::CartPole;
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

/// Which half of `[x, x_dot, theta, theta_dot]` the agent sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartPoleView {
    /// `[x, theta]`.
    Position,
    /// `[x_dot, theta_dot]` (POPGym's reset observation is nevertheless `[x, theta]`).
    Velocity,
}

#[derive(Clone, Debug)]
pub struct PopCartPole {
    inner: CartPole,
    view: CartPoleView,
    /// Standard deviation of the Gaussian observation noise (NoisyPositionOnlyCartPole).
    noise_sigma: Option<f64>,
    max_episode_length: usize,
    num_steps: usize,
    full_obs: [f32; 4],
    observation_space: Space,
    phase: Phase,
}

impl PopCartPole {
    /// `[x, theta]` for 200 / 400 / 600 steps.
    pub fn position_only(level: Level) -> Self {
        Self::with_params(CartPoleView::Position, None, level.pick(200, 400, 600))
    }

    /// `[x_dot, theta_dot]` for 200 / 400 / 600 steps.
    pub fn velocity_only(level: Level) -> Self {
        Self::with_params(CartPoleView::Velocity, None, level.pick(200, 400, 600))
    }

    /// `[x, theta]` plus noise of standard deviation 0.1 / 0.2 / 0.3, 200 steps.
    pub fn noisy_position_only(level: Level) -> Self {
        Self::with_params(CartPoleView::Position, Some(level.pick(0.1, 0.2, 0.3)), 200)
    }

    pub fn with_params(
        view: CartPoleView,
        noise_sigma: Option<f64>,
        max_episode_length: usize,
    ) -> Self {
        assert!(max_episode_length > 0, "episodes need at least one step");
        let observation_space = match view {
            CartPoleView::Position => {
                // Twice the termination thresholds, as f32 (POPGym's observation bounds).
                let theta = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
                let high = vec![(2.4f64 * 2.0) as f32, (theta * 2.0) as f32];
                Space::bounded_box(high.iter().map(|h| -h).collect(), high)
            }
            CartPoleView::Velocity => Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &[2]),
        };
        PopCartPole {
            inner: CartPole::new(false),
            view,
            noise_sigma,
            max_episode_length,
            num_steps: 0,
            full_obs: [0.0; 4],
            observation_space,
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }

    /// `clip(obs + normal(0, sigma).astype(float32), low, high)`, all in f32.
    fn add_noise(&mut self, obs: &mut [f32]) {
        let Some(sigma) = self.noise_sigma else {
            return;
        };
        let mut noise = [0.0f64; 2];
        if let Some(rng) = self.inner.rng_mut() {
            rng.normal_fill(0.0, sigma, &mut noise);
        }
        let Space::Box { low, high, .. } = &self.observation_space else {
            unreachable!("POPGym CartPole observations are boxes")
        };
        for i in 0..2 {
            obs[i] = (obs[i] + noise[i] as f32).clamp(low[i], high[i]);
        }
    }
}

impl Env for PopCartPole {
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
        obs[0] = self.full_obs[0];
        obs[1] = self.full_obs[2];
        self.add_noise(obs);
        self.phase = Phase::Running;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_obs(obs, &self.observation_space)?;
        let step = self.inner.step(action, &mut self.full_obs)?;
        self.num_steps += 1;
        let truncated = step.truncated || self.num_steps >= self.max_episode_length;
        // POPGym: math.isclose(reward, 0) -> -1 (only after termination), else 1/length.
        let reward = if step.reward == 0.0 {
            -1.0
        } else {
            1.0 / self.max_episode_length as f64
        };
        let (a, b) = match self.view {
            CartPoleView::Position => (0, 2),
            CartPoleView::Velocity => (1, 3),
        };
        obs[0] = self.full_obs[a];
        obs[1] = self.full_obs[b];
        self.add_noise(obs);
        self.phase = Phase::after(step.terminated || truncated);
        Ok(Step {
            reward,
            terminated: step.terminated,
            truncated,
        })
    }

    /// CartPole's `[x, x_dot, theta, theta_dot]` (f64).
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
