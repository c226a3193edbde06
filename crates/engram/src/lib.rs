//! # engram
//!
//! Fast deep reinforcement learning for agents with memory: algorithms (A3C, A2C, ...), the
//! training runtime (workers, rollouts, checkpoints, logging) and the `engram` command line,
//! connecting [`engram_nn`] (networks) and [`engram_env`] (environments).

pub mod advantage;
pub mod checkpoint;
pub mod config;
pub mod defaults;
pub mod progress;
pub mod run;
pub mod runtime;

pub use engram_env as env;
pub use engram_nn as nn;
