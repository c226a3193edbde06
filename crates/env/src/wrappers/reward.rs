//! Gymnasium's `ClipReward`.

use super::{bad_argument, inner_access};
use crate::{Action, Env, EnvError, Step};

/// Clips every reward into `[min_reward, max_reward]` (e.g. Atari's `[-1, 1]`).
#[derive(Clone, Debug)]
pub struct ClipReward<E> {
    inner: E,
    min_reward: f64,
    max_reward: f64,
}

impl<E: Env> ClipReward<E> {
    /// Either bound may be infinite (clip on one side only).
    pub fn new(inner: E, min_reward: f64, max_reward: f64) -> Result<Self, EnvError> {
        if min_reward.is_nan() || max_reward.is_nan() || min_reward > max_reward {
            return Err(bad_argument(
                "ClipReward",
                format!("needs min_reward <= max_reward, got [{min_reward}, {max_reward}]"),
            ));
        }
        Ok(ClipReward {
            inner,
            min_reward,
            max_reward,
        })
    }
}

inner_access!(ClipReward);

impl<E: Env> Env for ClipReward<E> {
    crate::forward_env!(inner: observation_space, action_space, reset, info, action_mask, render,
                        state, set_state, rng_mut);

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let mut step = self.inner.step(action, obs)?;
        step.reward = step.reward.clamp(self.min_reward, self.max_reward);
        Ok(step)
    }
}
