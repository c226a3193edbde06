//! Gymnasium's `TimeLimit`.

use super::{bad_argument, inner_access};
use crate::{Action, Env, EnvError, Step};

/// Truncates episodes after `max_episode_steps` steps: the step that reaches the limit returns
/// `truncated = true`. As in Gymnasium, a step that terminates at the limit reports both flags
/// (`terminated` wins for bootstrapping: do not bootstrap when `terminated`).
#[derive(Clone, Debug)]
pub struct TimeLimit<E> {
    inner: E,
    max_episode_steps: usize,
    elapsed_steps: usize,
}

impl<E: Env> TimeLimit<E> {
    pub fn new(inner: E, max_episode_steps: usize) -> Result<Self, EnvError> {
        if max_episode_steps == 0 {
            return Err(bad_argument(
                "TimeLimit",
                "max_episode_steps must be at least 1",
            ));
        }
        Ok(TimeLimit {
            inner,
            max_episode_steps,
            elapsed_steps: 0,
        })
    }

    pub fn max_episode_steps(&self) -> usize {
        self.max_episode_steps
    }

    /// Steps taken since the last reset.
    pub fn elapsed_steps(&self) -> usize {
        self.elapsed_steps
    }
}

inner_access!(TimeLimit);

impl<E: Env> Env for TimeLimit<E> {
    crate::forward_env!(inner: observation_space, action_space, info, action_mask, render, state,
                        set_state, rng_mut, model);

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.elapsed_steps = 0;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let mut step = self.inner.step(action, obs)?;
        self.elapsed_steps += 1;
        if self.elapsed_steps >= self.max_episode_steps {
            step.truncated = true;
        }
        Ok(step)
    }
}
