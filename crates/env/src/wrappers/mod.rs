//! Gymnasium's wrappers, as generic structs: `TimeLimit<CartPole>` is stepped without dynamic
//! dispatch, and `TimeLimit<Box<dyn Env>>` works just as well.
//!
//! Every wrapper implements [`Env`](crate::Env) and forwards what it does not change to the
//! environment it wraps (see [`forward_env!`](crate::forward_env)), reachable through
//! `inner()`, `inner_mut()` and `into_inner()`.
//!
//! | wrapper | Gymnasium |
//! |---|---|
//! | [`OrderEnforcing`] | `OrderEnforcing` + the checker's "step after terminated", as errors |
//! | [`TimeLimit`] | `TimeLimit` |
//! | [`RecordEpisodeStatistics`] | `RecordEpisodeStatistics` |
//! | [`ClipReward`] | `ClipReward` |
//! | [`NormalizeObservation`], [`NormalizeReward`] | the same names, state serialisable |
//! | [`FlattenObservation`] / [`OneHot`] | `FlattenObservation` (Discrete parts become one-hot) |
//! | [`FrameStack`] | `FrameStackObservation` |
//! | [`MaskObservation`] / [`MaskVelocity`] | rl-zoo's `MaskVelocityWrapper` |
//! | [`Flicker`] | flickering observations (Hausknecht & Stone 2015) |

mod normalize;
mod observation;
mod order;
mod reward;
mod stats;
mod time_limit;

pub use normalize::{NormalizeObservation, NormalizeReward, ReturnStatistics, RunningMeanStd};
pub use observation::{
    FlattenObservation, Flicker, FramePadding, FrameStack, MaskObservation, MaskVelocity, OneHot,
};
pub use order::OrderEnforcing;
pub use reward::ClipReward;
pub use stats::{EpisodeStats, RecordEpisodeStatistics};
pub use time_limit::TimeLimit;

/// Implements the listed [`Env`](crate::Env) methods by forwarding them to a field, so that a
/// wrapper only writes the methods it changes:
///
/// ```
/// use engram_env::{forward_env, Action, Env, EnvError, Step};
///
/// /// Doubles every reward.
/// struct DoubleReward<E> { inner: E }
///
/// impl<E: Env> Env for DoubleReward<E> {
///     forward_env!(inner: observation_space, action_space, reset, info, action_mask,
///                  render, state, set_state, rng_mut);
///
///     fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
///         let mut step = self.inner.step(action, obs)?;
///         step.reward *= 2.0;
///         Ok(step)
///     }
/// }
/// ```
#[macro_export]
macro_rules! forward_env {
    ($field:ident : $($method:ident),+ $(,)?) => {
        $( $crate::forward_env!(@one $field $method); )+
    };
    (@one $field:ident observation_space) => {
        fn observation_space(&self) -> &$crate::Space {
            self.$field.observation_space()
        }
    };
    (@one $field:ident action_space) => {
        fn action_space(&self) -> &$crate::Space {
            self.$field.action_space()
        }
    };
    (@one $field:ident reset) => {
        fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), $crate::EnvError> {
            self.$field.reset(seed, obs)
        }
    };
    (@one $field:ident step) => {
        fn step(
            &mut self,
            action: $crate::Action<'_>,
            obs: &mut [f32],
        ) -> Result<$crate::Step, $crate::EnvError> {
            self.$field.step(action, obs)
        }
    };
    (@one $field:ident info) => {
        fn info(&self) -> $crate::Info {
            self.$field.info()
        }
    };
    (@one $field:ident action_mask) => {
        fn action_mask(&self) -> Option<&[bool]> {
            self.$field.action_mask()
        }
    };
    (@one $field:ident render) => {
        fn render(&self, mode: $crate::RenderMode) -> Result<$crate::Render, $crate::EnvError> {
            self.$field.render(mode)
        }
    };
    (@one $field:ident state) => {
        fn state(&self) -> Option<Vec<f64>> {
            self.$field.state()
        }
    };
    (@one $field:ident set_state) => {
        fn set_state(&mut self, state: &[f64]) -> Result<(), $crate::EnvError> {
            self.$field.set_state(state)
        }
    };
    (@one $field:ident model) => {
        fn model(&self) -> Option<std::sync::Arc<$crate::model::Model>> {
            self.$field.model()
        }
    };
    (@one $field:ident rng_mut) => {
        fn rng_mut(&mut self) -> Option<&mut $crate::EnvRng> {
            self.$field.rng_mut()
        }
    };
}

/// `inner()`, `inner_mut()` and `into_inner()` for a wrapper whose wrapped env is `self.inner`.
macro_rules! inner_access {
    ($wrapper:ident) => {
        impl<E> $wrapper<E> {
            /// The wrapped environment.
            pub fn inner(&self) -> &E {
                &self.inner
            }
            /// The wrapped environment, mutably (stepping it directly bypasses this wrapper).
            pub fn inner_mut(&mut self) -> &mut E {
                &mut self.inner
            }
            /// Unwraps one layer.
            pub fn into_inner(self) -> E {
                self.inner
            }
        }
    };
}
pub(crate) use inner_access;

/// A constructor argument that cannot work, as an error naming the wrapper.
pub(crate) fn bad_argument(wrapper: &str, message: impl std::fmt::Display) -> crate::EnvError {
    crate::EnvError::Other(format!("{wrapper}: {message}"))
}
