//! # engram-env
//!
//! Environments with Gymnasium 1.x semantics, in Rust: spaces, the [`Env`] trait, wrappers,
//! vector environments, a registry of Gymnasium ids, and built-in classic control and toy text
//! environments that replay Gymnasium's reference trajectories bit for bit.
//!
//! It knows nothing of networks.

// A panic is a bug: code outside tests returns errors instead (see RELIABILITY.md).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod bench;
mod builtin;
pub mod classic_control;
pub mod env;
pub mod golden;
pub mod memory;
pub mod minatar;
pub mod model;
pub mod popgym;
pub mod registry;
pub mod rng;
pub mod space;
pub mod sutton_barto;
pub mod toy_text;
pub mod vector;
pub mod wrappers;

pub use env::{
    ByIndex, Env, EnvError, IndexStep, Info, InfoValue, Render, RenderMode, Step, StepByIndex,
};
pub use model::{Model, ModelBuilder, Outcome};
pub use registry::{make, make_with, register};
pub use registry::{EnvSpec, Options};
pub use rng::EnvRng;
pub use space::{Action, Space};
pub use vector::{AutoresetMode, SyncVectorEnv, ThreadedVectorEnv, VectorEnv};
pub use wrappers::EpisodeStats;
