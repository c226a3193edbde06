//! # engram
//!
//! Fast deep reinforcement learning for agents with memory: algorithms (A3C, A2C, ...), the
//! training runtime (workers, rollouts, checkpoints, logging) and the `engram` command line,
//! connecting [`engram_nn`] (networks) and [`engram_env`] (environments).
//!
//! Layout: [`config`] and [`defaults`] say what to train; [`policy`] is the actor-critic network;
//! [`rollout`] and [`advantage`] collect experience and turn it into targets; [`a3c`] holds the
//! learner loop shared by A3C and A2C; [`runtime`], [`run`], [`checkpoint`] and [`train`] are
//! the machinery around every run; [`eval`] plays trained agents.

pub mod a3c;
pub mod advantage;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod defaults;
pub mod eval;
pub mod policy;
pub mod ppo;
pub mod progress;
pub mod reinforce;
pub mod rollout;
pub mod run;
pub mod runtime;
pub mod train;

pub use engram_env as env;
pub use engram_nn as nn;
