//! What every run shares, whatever the algorithm: the run directory, checkpoints, metrics,
//! the evaluator, the monitor, progress, parameter stores, and the [`Session`] that offers
//! them to an algorithm's loop. It names no algorithm and no concrete network: agents are
//! seen through [`crate::agent::Act`], algorithm state as named tensors and JSON.

pub mod checkpoint;
pub mod evaluator;
pub mod learner_run;
pub mod metrics;
pub mod monitor;
pub mod monitor_csv;
pub mod params;
pub mod progress;
pub mod run_dir;
pub mod session;
pub mod tensorboard;

pub use checkpoint::{Checkpoint, CheckpointParts, RunState, Tensor};
pub use learner_run::LearnerRun;
pub use metrics::Metric;
pub use monitor::{lock, EpisodeSink, Monitor, StopReason};
pub use params::{HogwildStore, LocalStore, ParamStore};
pub use run_dir::Summary;
pub use session::{Resume, Session};
