//! # engram-nn
//!
//! The numerical core of engram. It knows nothing of reinforcement learning: it is a small,
//! fast toolkit for the networks RL uses (MLP, LSTM and GRU actor-critics, batch 1 to a few
//! hundred), with explicit forward and backward passes over one flat parameter buffer.
//!
//! Kernels run on the calling thread: there is no hidden thread pool. Parallelism comes from
//! the caller's workers (A3C), which is what RL at these sizes wants.

// A panic is a bug: code outside tests returns errors instead (see RELIABILITY.md).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod gradcheck;
pub mod init;
pub mod params;

pub use init::Init;
pub use params::{ParamLayout, ParamSpec, Slot};

pub mod activation;
pub mod conv;
pub mod embedding;
pub mod error;
pub mod gru;
pub mod kernels;
pub mod linear;
pub mod lstm;
pub mod mlp;
pub mod network;
pub mod onnx;
pub mod recurrent;
#[cfg(test)]
mod testutil;

pub use activation::Activation;
pub use conv::Conv2d;
pub use embedding::{one_hot, Embedding};
pub use error::NnError;
pub use gru::{Gru, GruStepScratch, GruTape};
pub use linear::Linear;
pub use lstm::{Lstm, LstmStepScratch, LstmTape};
pub use mlp::{Layer, Sequential, SequentialTape};
pub use network::{
    ConvEncoderSpec, ConvLayerSpec, Core, CoreInit, CoreKind, HeadSpec, Network, NetworkConfig,
    NetworkStepScratch, NetworkTape,
};
pub use recurrent::RecurrentState;

pub mod cmaes;
pub mod dist;
pub mod loss;
pub mod optim;
pub mod shared;

pub use dist::{Categorical, DiagGaussian, MultiCategorical, TanhGaussian};
pub use loss::Reduction;
pub use optim::{
    clip_grad_norm, global_norm, Adam, AdamConfig, Optimizer, OptimizerConfig, OptimizerState,
    RmsProp, RmsPropConfig, RmsPropEps, Schedule, Sgd, SgdConfig, StateError,
};
pub use shared::{SharedAdam, SharedOptimizer, SharedParams, SharedRmsProp, SharedSgd};
