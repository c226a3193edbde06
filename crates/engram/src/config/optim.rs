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

/// Which RMSProp: where epsilon sits and where the squared-gradient average starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RmsPropStyle {
    /// TensorFlow's (the A3C paper's, SB3's `RMSpropTFLike`): `g / sqrt(v + eps)`, `v`
    /// starting at 1.
    Tf,
    /// `torch.optim.RMSprop`'s (MinAtar's DQN, CleanRL's): `g / (sqrt(v) + eps)`, `v`
    /// starting at 0. With the same `eps` it takes larger steps once gradients are small.
    Torch,
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
    pub rmsprop_style: RmsPropStyle,
    /// Divide by the gradient's running standard deviation rather than its root mean square
    /// (`torch.optim.RMSprop(centered=True)`).
    pub rmsprop_centered: bool,
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
            rmsprop_style: RmsPropStyle::Tf,
            rmsprop_centered: false,
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
            OptimizerKind::Rmsprop => {
                let (alpha, eps) = (self.rmsprop_alpha as f32, self.rmsprop_eps as f32);
                let style = match self.rmsprop_style {
                    RmsPropStyle::Tf => RmsPropConfig::tf_like(alpha, eps),
                    RmsPropStyle::Torch => RmsPropConfig {
                        alpha,
                        eps,
                        ..RmsPropConfig::default()
                    },
                };
                OptimizerConfig::RmsProp(RmsPropConfig {
                    centered: self.rmsprop_centered,
                    ..style
                })
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use engram_nn::optim::RmsPropEps;

    fn rmsprop_of(toml_text: &str) -> RmsPropConfig {
        let config: OptimConfig = toml::from_str(toml_text).expect("valid optimizer keys");
        match config.optimizer() {
            OptimizerConfig::RmsProp(c) => c,
            other => panic!("expected RMSProp, got {other:?}"),
        }
    }

    #[test]
    fn rmsprop_style_and_centered_reach_the_optimizer() {
        let tf = rmsprop_of("optimizer = \"rmsprop\"\nrmsprop_alpha = 0.95\nrmsprop_eps = 0.01");
        assert_eq!(tf, RmsPropConfig::tf_like(0.95, 0.01));
        assert!(!tf.centered);
        // MinAtar's DQN: torch.optim.RMSprop(alpha=0.95, eps=0.01, centered=True).
        let torch = rmsprop_of(
            "optimizer = \"rmsprop\"\nrmsprop_alpha = 0.95\nrmsprop_eps = 0.01\n\
             rmsprop_style = \"torch\"\nrmsprop_centered = true",
        );
        assert_eq!(torch.eps_placement, RmsPropEps::OutsideSqrt);
        assert_eq!(torch.initial_square_avg, 0.0);
        assert!(torch.centered);
        assert_eq!((torch.alpha, torch.eps), (0.95, 0.01));
    }

    #[test]
    fn an_unknown_rmsprop_style_names_the_choices() {
        let err = toml::from_str::<OptimConfig>("rmsprop_style = \"pytorch\"")
            .expect_err("not a style")
            .to_string();
        assert!(err.contains("tf") && err.contains("torch"), "{err}");
    }
}
