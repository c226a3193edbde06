//! Every error the library returns, in one place at the bottom floor, so that any file can
//! name them without importing a floor above it. Each message says what is wrong and what to
//! do about it.

use std::path::PathBuf;

/// A configuration problem, phrased so that the user knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("`--set {0}`: expected key=value, e.g. `--set learning_rate=7e-4`")]
    BadAssignment(String),
    #[error("{0}")]
    Parse(String),
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// `ConfigError::Invalid` for `key`.
pub fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Bumped whenever the meaning of the stored tensors or metadata changes.
/// `/2`: the config is stored as the flat table of the per-algorithm sections, the algorithm
/// by name, collectors and metrics as named JSON values.
pub const CHECKPOINT_FORMAT: &str = "engram-checkpoint/2";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint at {0}")]
    NotFound(PathBuf),
    #[error("cannot read or write checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoint {path} is corrupt ({reason}); use another checkpoint (e.g. best.safetensors) or start a new run")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "checkpoint {path} was written by engram {found} (format {found_format}); this is engram {expected} \
         (format {CHECKPOINT_FORMAT}): retrain, or use engram {found} to continue it"
    )]
    Version {
        path: PathBuf,
        found: String,
        found_format: String,
        expected: String,
    },
    #[error(
        "checkpoint {path} holds another architecture:\n  checkpoint: {found}\n  this model: {expected}\n\
         the config (policy, hidden_size, encoder_layers, encoder and conv_*, env) must match the run that wrote it"
    )]
    Architecture {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Env(#[from] engram_env::EnvError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Policy(String),
    #[error("run directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}
