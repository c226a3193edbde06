//! # engram
//!
//! Fast deep reinforcement learning for agents with memory: algorithms (A3C, A2C, ...), the
//! training runtime (workers, rollouts, checkpoints, logging) and the `engram` command line,
//! connecting [`engram_nn`] (networks) and [`engram_env`] (environments).

pub use engram_env as env;
pub use engram_nn as nn;

pub mod bench;
