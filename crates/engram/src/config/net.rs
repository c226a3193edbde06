//! The network: recurrent core, layer sizes, activation, how discrete observations are
//! encoded and initialised ([`NetConfig`]); and, for actor-critic policies, the action
//! distribution and whether the critic has its own network ([`ActorCriticConfig`]).

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};

/// The recurrent core between encoder and heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Lstm,
    Gru,
    /// No memory: encoder straight into the heads.
    Mlp,
}

impl PolicyKind {
    pub fn parse(name: &str) -> Result<PolicyKind, ConfigError> {
        match name.to_ascii_lowercase().as_str() {
            "lstm" => Ok(PolicyKind::Lstm),
            "gru" => Ok(PolicyKind::Gru),
            "mlp" | "none" => Ok(PolicyKind::Mlp),
            _ => Err(invalid(
                "policy",
                format!("unknown policy `{name}`; valid choices: lstm, gru, mlp"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Lstm => "lstm",
            PolicyKind::Gru => "gru",
            PolicyKind::Mlp => "mlp",
        }
    }
}

/// Hidden-layer activations; converted to `engram_nn`'s by the agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Relu,
    Elu,
}

impl Activation {
    pub fn to_nn(self) -> engram_nn::activation::Activation {
        use engram_nn::activation::Activation as Nn;
        match self {
            Activation::Tanh => Nn::Tanh,
            Activation::Relu => Nn::Relu,
            Activation::Elu => Nn::Elu { alpha: 1.0 },
        }
    }
}

/// How discrete observations reach the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscreteEncoding {
    OneHot,
    Embedding,
}

/// What reads the observation first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// Dense layers (`encoder_layers`) on the flat observation.
    Mlp,
    /// Convolutions (`conv_filters`, `conv_kernel`, `conv_stride`, `conv_padding`) on an image
    /// observation `[height, width, channels]`, then the dense `encoder_layers`.
    Conv,
}

/// The widest layer engram builds.
pub const MAX_WIDTH: usize = 65_536;
/// The most weights between hidden layers (100M: 400 MB per copy of the parameters).
pub const MAX_WEIGHTS: u128 = 100_000_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    pub policy: PolicyKind,
    pub hidden_size: usize,
    pub encoder: EncoderKind,
    pub conv_filters: Vec<usize>,
    pub conv_kernel: usize,
    pub conv_stride: usize,
    pub conv_padding: usize,
    pub encoder_layers: Vec<usize>,
    pub activation: Activation,
    pub discrete_encoding: DiscreteEncoding,
    pub embedding_dim: usize,
    pub ortho_init: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            policy: PolicyKind::Lstm,
            hidden_size: 64,
            encoder: EncoderKind::Mlp,
            // MinAtar's network (Young & Tian 2019): one 3x3 convolution of 16 filters.
            conv_filters: vec![16],
            conv_kernel: 3,
            conv_stride: 1,
            conv_padding: 0,
            encoder_layers: vec![64],
            activation: Activation::Tanh,
            discrete_encoding: DiscreteEncoding::OneHot,
            embedding_dim: 16,
            ortho_init: true,
        }
    }
}

impl NetConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.policy != PolicyKind::Mlp && self.hidden_size == 0 {
            return Err(invalid(
                "hidden_size",
                "must be at least 1 for an lstm or gru policy",
            ));
        }
        if self.encoder == EncoderKind::Conv {
            if self.conv_filters.is_empty() || self.conv_filters.contains(&0) {
                return Err(invalid(
                    "conv_filters",
                    "a conv encoder needs at least one convolution of at least 1 filter, e.g. [16]",
                ));
            }
            for (key, v) in [
                ("conv_kernel", self.conv_kernel),
                ("conv_stride", self.conv_stride),
            ] {
                if v == 0 || v > 64 {
                    return Err(invalid(key, format!("must be between 1 and 64, got {v}")));
                }
            }
            if self.conv_padding > 64 {
                return Err(invalid(
                    "conv_padding",
                    format!("must be at most 64, got {}", self.conv_padding),
                ));
            }
        }
        if self.encoder_layers.contains(&0) {
            return Err(invalid("encoder_layers", "layer sizes must be at least 1"));
        }
        if self.policy == PolicyKind::Mlp && self.encoder_layers.is_empty() {
            return Err(invalid(
                "encoder_layers",
                "an mlp policy needs at least one hidden layer, e.g. [64, 64]",
            ));
        }
        if self.discrete_encoding == DiscreteEncoding::Embedding && self.embedding_dim == 0 {
            return Err(invalid("embedding_dim", "must be at least 1"));
        }
        for (key, v) in [
            ("hidden_size", self.hidden_size),
            ("embedding_dim", self.embedding_dim),
        ]
        .into_iter()
        .chain(self.encoder_layers.iter().map(|&w| ("encoder_layers", w)))
        .chain(self.conv_filters.iter().map(|&w| ("conv_filters", w)))
        {
            if v > MAX_WIDTH {
                return Err(invalid(
                    key,
                    format!("a layer of {v} units is more than the {MAX_WIDTH} engram allows"),
                ));
            }
        }
        let weights = self.weight_estimate();
        if weights > MAX_WEIGHTS {
            return Err(invalid(
                "encoder_layers",
                format!(
                    "the network would have about {weights} weights between its hidden layers, more \
                     than the {MAX_WEIGHTS} (400 MB per copy; training keeps several) engram allows: \
                     use smaller layers"
                ),
            ));
        }
        Ok(())
    }

    /// Weights between the hidden layers and in the recurrent core (inputs and heads aside).
    fn weight_estimate(&self) -> u128 {
        let widths: Vec<u128> = self.encoder_layers.iter().map(|&w| w as u128).collect();
        let gates = match self.policy {
            PolicyKind::Lstm => 4,
            PolicyKind::Gru => 3,
            PolicyKind::Mlp => 0,
        };
        let h = self.hidden_size as u128;
        let last = widths.last().copied().unwrap_or(1);
        let dense: u128 = widths.windows(2).map(|w| w[0] * w[1]).sum();
        dense + gates * h * (h + last)
    }

    pub fn recurrent(&self) -> bool {
        self.policy != PolicyKind::Mlp
    }
}

/// The action distribution of an actor-critic policy, and the critic's network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActorCriticConfig {
    pub separate_critic: bool,
    pub log_std_init: f64,
    pub use_sde: bool,
    pub sde_sample_freq: i64,
}

impl Default for ActorCriticConfig {
    fn default() -> Self {
        ActorCriticConfig {
            separate_critic: false,
            log_std_init: 0.0,
            use_sde: false,
            sde_sample_freq: -1,
        }
    }
}

impl ActorCriticConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.log_std_init.is_finite() && self.log_std_init.abs() <= 20.0) {
            return Err(invalid(
                "log_std_init",
                format!(
                    "must be a log standard deviation between -20 and 20, got {}",
                    self.log_std_init
                ),
            ));
        }
        if self.sde_sample_freq == 0 || self.sde_sample_freq < -1 {
            return Err(invalid(
                "sde_sample_freq",
                format!(
                    "must be a positive number of steps, or -1 for once per rollout (REINFORCE: per episode); got {}",
                    self.sde_sample_freq
                ),
            ));
        }
        Ok(())
    }
}
