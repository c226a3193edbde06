//! # engram
//!
//! Fast deep reinforcement learning for agents with memory: algorithms (A3C, A2C, PPO,
//! REINFORCE, ...) and the training runtime (workers, rollouts, checkpoints, logging),
//! connecting [`engram_nn`] (networks) and [`engram_env`] (environments). The `engram`
//! command line lives in the `engram-cli` crate.
//!
//! Floors, lowest first; a module imports only from its own folder or lower floors (a test,
//! `tests/layers.rs`, keeps it so):
//! 1. [`error`]: every error type.
//! 2. [`config`]: the shared configuration sections.
//! 3. [`agent`]: networks that act and learn (the actor-critic), seen by the rest through
//!    [`agent::Act`].
//! 4. [`runtime`]: what every run shares (run directory, checkpoints, metrics, evaluator,
//!    monitor, progress, parameter stores, the [`runtime::Session`]); names no algorithm.
//! 5. [`onpolicy`] (rollouts, collectors, advantages, normalisation, the policy-gradient loss)
//!    and [`offpolicy`] (replay buffers), [`tabular`] (the tabular methods' runner,
//!    exploration, Bellman backups, `values.json`), [`search`] (gradient-free policy search:
//!    searched coordinates, candidates played on all cores, fitness shaping); [`plot`]
//!    (learning-curve pictures, drawn by engram itself as PNG or SVG).
//! 6. [`algos`]: one file per algorithm, its `Config` and loss, and the registry.
//! 7. [`train`] (train and resume), [`play`] (load and play a checkpoint).
//! 8. [`export`] (a checkpoint's policy as ONNX), [`bench`] (throughput workloads), [`seeds`]
//!    (one run per seed, in parallel, and the curves across them), [`inspect`] (a trained
//!    agent's steps, values and recurrent gates, recorded and drawn).

// A panic is a bug: code outside tests returns errors instead (see RELIABILITY.md).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod error;

pub mod config;

pub mod agent;

pub mod runtime;

pub mod offpolicy;
pub mod onpolicy;
pub mod plot;
pub mod search;
pub mod tabular;

pub mod algos;

pub mod export;
pub mod play;
pub mod train;

pub mod bench;
pub mod inspect;
pub mod seeds;

pub use algos::RunConfig;
pub use engram_env as env;
pub use engram_nn as nn;
