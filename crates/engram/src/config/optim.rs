//! The optimizer and its learning-rate schedule.

use super::{check, invalid, ConfigError};
use engram_nn::optim::{AdamConfig, OptimizerConfig, RmsPropConfig, Schedule};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Rmsprop,
    Adam,
}

/// How a coefficient (learning rate, clip range) moves over the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Constant,
    /// Linear decay to zero over `total_steps`.
    Linear,
}

impl ScheduleKind {
    /// The schedule of `value` under this kind.
    pub fn of(self, value: f64) -> Schedule {
        match self {
            ScheduleKind::Constant => Schedule::Constant(value),
            ScheduleKind::Linear => Schedule::Linear {
                start: value,
                end: 0.0,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub lr_schedule: ScheduleKind,
    pub rmsprop_alpha: f64,
    pub rmsprop_eps: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    pub max_grad_norm: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            // The A3C paper's RMSProp (7e-4) is available; Adam 1e-3 learned every task in
            // BENCHMARKS.md faster and is the safer default.
            optimizer: OptimizerKind::Adam,
            learning_rate: 1e-3,
            lr_schedule: ScheduleKind::Constant,
            rmsprop_alpha: 0.99,
            rmsprop_eps: 1e-5,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            max_grad_norm: 0.5,
        }
    }
}

impl OptimConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive("learning_rate", self.learning_rate)?;
        check::unit("rmsprop_alpha", self.rmsprop_alpha, false)?;
        check::positive("rmsprop_eps", self.rmsprop_eps)?;
        for (key, v) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(invalid(key, format!("must be in [0, 1), got {v}")));
            }
            // The optimizer runs in f32: a beta that rounds to 1 there divides by zero in
            // Adam's bias correction.
            if v as f32 >= 1.0 {
                return Err(invalid(
                    key,
                    format!("{v} is 1 in f32 precision (the optimizer's): use at most 0.9999999"),
                ));
            }
        }
        check::positive("adam_eps", self.adam_eps)?;
        check::positive("max_grad_norm", self.max_grad_norm)
    }

    /// The optimizer for `engram_nn`.
    pub fn optimizer(&self) -> OptimizerConfig {
        match self.optimizer {
            // TF/original-A3C style: eps inside the square root, as SB3's RMSpropTFLike.
            OptimizerKind::Rmsprop => OptimizerConfig::RmsProp(RmsPropConfig::tf_like(
                self.rmsprop_alpha as f32,
                self.rmsprop_eps as f32,
            )),
            OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig {
                beta1: self.adam_beta1 as f32,
                beta2: self.adam_beta2 as f32,
                eps: self.adam_eps as f32,
                ..AdamConfig::default()
            }),
        }
    }

    /// The learning-rate schedule over training progress.
    pub fn lr(&self) -> Schedule {
        self.lr_schedule.of(self.learning_rate)
    }
}
