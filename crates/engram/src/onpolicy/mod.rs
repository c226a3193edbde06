//! The machinery of the on-policy algorithms (A2C, A3C, PPO, REINFORCE; later TRPO, RL^2):
//! rollouts and minibatches, the lockstep and whole-episode collectors, advantages,
//! VecNormalize-style normalisation, and the policy-gradient loss three of them share.

pub mod advantage;
pub mod collector;
pub mod episodes;
pub mod normalize;
pub mod pg_loss;
pub mod rollout;

pub use collector::{Collector, CollectorState};
pub use normalize::Normalizer;
pub use rollout::{MiniBatch, Rollout};
