//! Errors instead of undefined behaviour when the API is used out of order.

use super::inner_access;
use crate::{Action, Env, EnvError, Space, Step};

#[cold]
fn invalid_action(action: Action<'_>, space: &Space) -> EnvError {
    EnvError::InvalidAction {
        action: action.to_string(),
        space: space.describe(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NeverReset,
    Running,
    Ended,
}

/// Rejects `step` before the first `reset` ([`EnvError::NotReset`]), after the episode ended
/// ([`EnvError::NeedsReset`]), and with an action outside the action space
/// ([`EnvError::InvalidAction`]).
///
/// Gymnasium's `OrderEnforcing` only catches the first; stepping a finished episode is a warning
/// there and silently wrong results in practice. [`crate::registry::make`] applies this wrapper
/// outermost, so that it also sees the truncation of the `TimeLimit`.
#[derive(Clone, Debug)]
pub struct OrderEnforcing<E> {
    inner: E,
    phase: Phase,
}

impl<E: Env> OrderEnforcing<E> {
    pub fn new(inner: E) -> Self {
        OrderEnforcing {
            inner,
            phase: Phase::NeverReset,
        }
    }

    /// Whether `reset` has been called at least once.
    pub fn has_reset(&self) -> bool {
        self.phase != Phase::NeverReset
    }
}

inner_access!(OrderEnforcing);

impl<E: Env> Env for OrderEnforcing<E> {
    crate::forward_env!(inner: observation_space, action_space, info, action_mask, render, state,
                        rng_mut, model);

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.phase = Phase::Running;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        match self.phase {
            Phase::Running => {}
            Phase::NeverReset => return Err(EnvError::NotReset),
            Phase::Ended => return Err(EnvError::NeedsReset),
        }
        let space = self.inner.action_space();
        let valid = match (action, space) {
            // The common case, inlined.
            (Action::Discrete(a), Space::Discrete { n, start }) => {
                a >= *start && a < *start + *n as i64
            }
            _ => action.is_in(space),
        };
        if !valid {
            return Err(invalid_action(action, space));
        }
        let step = self.inner.step(action, obs)?;
        if step.done() {
            self.phase = Phase::Ended;
        }
        Ok(step)
    }

    /// Setting the full state makes the environment steppable (replays continue from a
    /// recorded state this way).
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.inner.set_state(state)?;
        self.phase = Phase::Running;
        Ok(())
    }
}
