//! Training configuration: one flat, serialisable struct with every hyper-parameter.
//!
//! Layers of precedence, lowest first: engram's defaults, the tuned per-environment table
//! ([`crate::defaults`]), a `--config FILE.toml`, `--set key=value` overrides, and the explicit
//! flags (`--workers`, `--steps`, ...). Every layer goes through serde with
//! `deny_unknown_fields`, so a misspelt key is reported with the list of valid ones, and the
//! merged result is validated before anything runs. The run directory gets the final config
//! (defaults included) as `config.toml`, which is also what `--resume` reads back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

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

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    /// Asynchronous advantage actor-critic (Mnih et al. 2016): Hogwild workers.
    A3c,
    /// Its synchronous counterpart: N environments in lockstep, one batched update.
    A2c,
    /// Proximal Policy Optimization (Schulman et al. 2017): clipped surrogate, K epochs of
    /// minibatches per rollout; recurrent minibatches are whole env sequences.
    Ppo,
    /// Monte-Carlo policy gradient (Williams 1992) over whole episodes, optional baseline.
    Reinforce,
}

impl Algo {
    pub const ALL: [Algo; 4] = [Algo::A3c, Algo::A2c, Algo::Ppo, Algo::Reinforce];

    pub fn name(self) -> &'static str {
        match self {
            Algo::A3c => "a3c",
            Algo::A2c => "a2c",
            Algo::Ppo => "ppo",
            Algo::Reinforce => "reinforce",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Algo::A3c => "Asynchronous Advantage Actor-Critic: lock-free workers, shared optimizer statistics",
            Algo::A2c => "Advantage Actor-Critic: N environments in lockstep, one batched update",
            Algo::Ppo => "Proximal Policy Optimization: clipped surrogate, K epochs of minibatches (recurrent: whole env sequences)",
            Algo::Reinforce => "REINFORCE: Monte-Carlo policy gradient over whole episodes, optional value baseline",
        }
    }

    pub fn parse(name: &str) -> Result<Algo, ConfigError> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name() == name.to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = Algo::ALL.iter().map(|a| a.name()).collect();
                invalid(
                    "algo",
                    format!(
                        "unknown algorithm `{name}`; valid choices: {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Relu,
    Elu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Rmsprop,
    Adam,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    Constant,
    /// Linear decay to zero over `total_steps`.
    Linear,
}

/// How discrete observations reach the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscreteEncoding {
    OneHot,
    Embedding,
}

/// Every hyper-parameter of a training run. Field names follow the papers and SB3 where they
/// have a name there (`gamma`, `gae_lambda`, `ent_coef`, `vf_coef`, `max_grad_norm`, `t_max`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Environment id, as in Gymnasium (`engram envs` lists them).
    pub env: String,
    /// Keyword options for the environment (`gym.make(id, **env_options)`).
    pub env_options: BTreeMap<String, toml::Value>,
    pub algo: Algo,
    pub seed: u64,
    /// Environment steps to train for (all workers together).
    pub total_steps: u64,
    /// A3C: worker threads. A2C: environments stepped in lockstep.
    pub workers: usize,
    pub policy: PolicyKind,
    /// Units of the LSTM/GRU core.
    pub hidden_size: usize,
    /// Hidden layers of the MLP encoder before the core (the whole network for `mlp`).
    pub encoder_layers: Vec<usize>,
    pub activation: Activation,
    pub discrete_encoding: DiscreteEncoding,
    /// Give the critic its own network (encoder and core) instead of sharing the actor's.
    pub separate_critic: bool,
    /// Embedding width when `discrete_encoding = "embedding"`.
    pub embedding_dim: usize,
    /// Orthogonal initialisation of the encoder and heads (gain sqrt 2, policy head 0.01, value
    /// head 1: SB3's `ortho_init`); false = PyTorch's default fan-in uniform weights (biases
    /// stay zero, where PyTorch draws them from the same uniform).
    pub ortho_init: bool,
    /// Continuous actions: initial log standard deviation of the Gaussian (SB3's
    /// `log_std_init`), of every element of gSDE's `log_std` matrix with `use_sde`.
    pub log_std_init: f64,
    /// Continuous actions: generalized state-dependent exploration (gSDE, Raffin et al. 2021):
    /// the action noise is the policy's latent features times an exploration matrix that is
    /// redrawn every `sde_sample_freq` steps, instead of fresh noise every step.
    pub use_sde: bool,
    /// gSDE: redraw the exploration matrix every this many steps; -1 = only at the start of
    /// each rollout (SB3's default) or, for REINFORCE, of each episode.
    pub sde_sample_freq: i64,
    /// Rollout length between updates (n of the n-step return).
    pub t_max: usize,
    pub gamma: f64,
    /// 1.0 gives the plain n-step advantage of the A3C paper.
    pub gae_lambda: f64,
    pub learning_rate: f64,
    pub lr_schedule: LrSchedule,
    pub optimizer: OptimizerKind,
    /// A3C: one set of RMSProp/Adam statistics shared by all workers (the paper's best variant)
    /// instead of one per worker.
    pub shared_optimizer_stats: bool,
    pub rmsprop_alpha: f64,
    pub rmsprop_eps: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    /// Weight of the value loss `0.5 * mean((V - R)^2)` (the A3C paper's and CleanRL's form;
    /// SB3's value loss has no 0.5, so SB3's `vf_coef = c` weighs like engram's `2c`).
    pub vf_coef: f64,
    pub ent_coef: f64,
    pub max_grad_norm: f64,
    /// Rewards are multiplied by this before learning (returns are reported unscaled).
    pub reward_scale: f64,
    /// Normalise observations by running mean/std shared by a collector's environments
    /// (SB3's VecNormalize); Box observations only. The statistics travel in checkpoints.
    pub normalize_observations: bool,
    /// Scale rewards by the running std of the discounted return (VecNormalize's norm_reward).
    pub normalize_rewards: bool,
    /// Evaluate the greedy policy every this many environment steps (0 = never).
    pub eval_interval: u64,
    pub eval_episodes: usize,
    /// A metrics row every this many environment steps.
    pub log_interval: u64,
    /// Save the latest checkpoint every this many environment steps.
    pub checkpoint_interval: u64,
    /// Stop as soon as the 100-episode training mean reaches the environment's threshold.
    pub stop_at_threshold: bool,
    /// PPO: passes over each rollout (SB3 `n_epochs`). The rollout length is `t_max`
    /// (SB3 `n_steps`) per environment, `workers` environments.
    pub n_epochs: usize,
    /// PPO: steps per minibatch (SB3 `batch_size`). Recurrent policies take whole env
    /// sequences, `batch_size / t_max` environments per minibatch.
    pub batch_size: usize,
    /// PPO: the surrogate's clip range epsilon.
    pub clip_range: f64,
    /// PPO: `linear` decays the clip range to 0 over `total_steps` (rl-zoo's `lin_0.2`).
    pub clip_range_schedule: LrSchedule,
    /// PPO: clip the value change around the rollout's values (CleanRL's `clip_vloss`); unset =
    /// no value clipping.
    pub clip_range_vf: Option<f64>,
    /// PPO: stop the update's epochs when a minibatch's approximate KL exceeds
    /// `1.5 * target_kl` (SB3); unset = never.
    pub target_kl: Option<f64>,
    /// PPO: KL-penalty coefficient beta (the PPO paper's KL-penalty variant; 0 = off).
    pub kl_coef: f64,
    /// PPO: adapt `kl_coef` after each update towards `kl_target` (halve below target/1.5,
    /// double above target*1.5).
    pub kl_adaptive: bool,
    pub kl_target: f64,
    /// PPO/REINFORCE: normalise advantages (per minibatch for PPO).
    pub normalize_advantage: bool,
    /// REINFORCE: subtract a learned value baseline `V(s_t)` from the return.
    pub baseline: bool,
    /// REINFORCE: weight each step by the return from that step on (else by the whole
    /// episode's return).
    pub reward_to_go: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            env: "CartPole-v1".into(),
            env_options: BTreeMap::new(),
            algo: Algo::A3c,
            seed: 0,
            total_steps: 1_000_000,
            workers: default_workers(),
            policy: PolicyKind::Lstm,
            hidden_size: 64,
            encoder_layers: vec![64],
            activation: Activation::Tanh,
            discrete_encoding: DiscreteEncoding::OneHot,
            separate_critic: false,
            embedding_dim: 16,
            ortho_init: true,
            log_std_init: 0.0,
            use_sde: false,
            sde_sample_freq: -1,
            t_max: 20,
            gamma: 0.99,
            gae_lambda: 1.0,
            learning_rate: 1e-3,
            lr_schedule: LrSchedule::Constant,
            // The A3C paper's RMSProp (7e-4) is available; Adam 1e-3 learned every task in
            // BENCHMARKS.md faster and is the safer default.
            optimizer: OptimizerKind::Adam,
            shared_optimizer_stats: true,
            rmsprop_alpha: 0.99,
            rmsprop_eps: 1e-5,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            vf_coef: 0.5,
            ent_coef: 0.01,
            max_grad_norm: 0.5,
            reward_scale: 1.0,
            normalize_observations: false,
            normalize_rewards: false,
            eval_interval: 50_000,
            eval_episodes: 10,
            log_interval: 10_000,
            checkpoint_interval: 200_000,
            stop_at_threshold: false,
            n_epochs: 10,
            batch_size: 64,
            clip_range: 0.2,
            clip_range_schedule: LrSchedule::Constant,
            clip_range_vf: None,
            target_kl: None,
            kl_coef: 0.0,
            kl_adaptive: false,
            kl_target: 0.01,
            normalize_advantage: true,
            baseline: true,
            reward_to_go: true,
        }
    }
}

/// The machine's available cores (A3C's default worker count).
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl TrainConfig {
    /// Engram's defaults overlaid with the tuned table for `(algo, env)`.
    pub fn tuned(algo: Algo, env: &str) -> TrainConfig {
        let mut config = TrainConfig {
            algo,
            env: env.to_string(),
            ..TrainConfig::default()
        };
        crate::defaults::apply_tuned(&mut config);
        config
    }

    /// Reads a TOML file as a full config (used by `--resume`, where the run's own
    /// `config.toml` holds every key).
    pub fn from_file(path: &Path) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(format!("{}: {}", path.display(), e.message())))
    }

    /// Overlays the keys present in a TOML file.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(format!("{}: {}", path.display(), e.message())))?;
        self.merge_table(table, &path.display().to_string())
    }

    fn merge_table(&mut self, overlay: toml::Table, origin: &str) -> Result<(), ConfigError> {
        let mut base = self.to_table();
        for (key, value) in overlay {
            match (base.get_mut(&key), value) {
                (Some(toml::Value::Table(existing)), toml::Value::Table(new)) => {
                    existing.extend(new)
                }
                (_, value) => {
                    base.insert(key, value);
                }
            }
        }
        *self = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| {
                ConfigError::Parse(format!("{origin}: {}", e.message()))
            })?;
        Ok(())
    }

    /// Applies one `key=value` (`env_options.is_slippery=false` sets an environment option).
    /// The value is read as TOML (numbers, booleans, arrays), or as a plain string otherwise.
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let (key, raw) = assignment
            .split_once('=')
            .ok_or_else(|| ConfigError::BadAssignment(assignment.to_string()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::BadAssignment(assignment.to_string()));
        }
        let value = parse_value(raw.trim());
        let mut overlay = toml::Table::new();
        match key.split_once('.') {
            Some(("env_options", option)) => {
                let mut options = toml::Table::new();
                options.insert(option.to_string(), value);
                overlay.insert("env_options".into(), toml::Value::Table(options));
            }
            Some(_) => {
                return Err(invalid(
                    key,
                    "only `env_options.<name>` keys may contain a dot",
                ));
            }
            None => {
                overlay.insert(key.to_string(), value);
            }
        }
        self.merge_table(overlay, &format!("--set {assignment}"))
    }

    pub fn to_table(&self) -> toml::Table {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            _ => unreachable!("TrainConfig always serialises to a table"),
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The environment options as the env crate's JSON-valued `Options`.
    pub fn env_options_json(&self) -> BTreeMap<String, serde_json::Value> {
        self.env_options
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                )
            })
            .collect()
    }

    /// Checks every value that serde's types cannot; each error names the key and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(key, format!("must be a positive number, got {v}")))
            }
        };
        let non_negative = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(key, format!("must be zero or positive, got {v}")))
            }
        };
        let unit = |key: &str, v: f64, open_low: bool| {
            let ok = if open_low {
                v > 0.0 && v <= 1.0
            } else {
                (0.0..=1.0).contains(&v)
            };
            if ok {
                Ok(())
            } else {
                let range = if open_low { "(0, 1]" } else { "[0, 1]" };
                Err(invalid(key, format!("must be in {range}, got {v}")))
            }
        };
        if self.env.trim().is_empty() {
            return Err(invalid(
                "env",
                "must name an environment id; `engram envs` lists them",
            ));
        }
        if self.workers == 0 {
            return Err(invalid("workers", "must be at least 1"));
        }
        if self.total_steps == 0 {
            return Err(invalid("total_steps", "must be at least 1"));
        }
        if self.t_max == 0 {
            return Err(invalid("t_max", "must be at least 1"));
        }
        if self.policy != PolicyKind::Mlp && self.hidden_size == 0 {
            return Err(invalid(
                "hidden_size",
                "must be at least 1 for an lstm or gru policy",
            ));
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
        unit("gamma", self.gamma, false)?;
        unit("gae_lambda", self.gae_lambda, false)?;
        positive("learning_rate", self.learning_rate)?;
        unit("rmsprop_alpha", self.rmsprop_alpha, false)?;
        positive("rmsprop_eps", self.rmsprop_eps)?;
        if !(0.0..1.0).contains(&self.adam_beta1) {
            return Err(invalid(
                "adam_beta1",
                format!("must be in [0, 1), got {}", self.adam_beta1),
            ));
        }
        if !(0.0..1.0).contains(&self.adam_beta2) {
            return Err(invalid(
                "adam_beta2",
                format!("must be in [0, 1), got {}", self.adam_beta2),
            ));
        }
        positive("adam_eps", self.adam_eps)?;
        non_negative("vf_coef", self.vf_coef)?;
        non_negative("ent_coef", self.ent_coef)?;
        positive("max_grad_norm", self.max_grad_norm)?;
        positive("reward_scale", self.reward_scale)?;
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
        if self.eval_interval > 0 && self.eval_episodes == 0 {
            return Err(invalid(
                "eval_episodes",
                "must be at least 1 when eval_interval > 0",
            ));
        }
        if self.log_interval == 0 {
            return Err(invalid("log_interval", "must be at least 1"));
        }
        if self.checkpoint_interval == 0 {
            return Err(invalid("checkpoint_interval", "must be at least 1"));
        }
        if self.algo == Algo::Ppo {
            self.validate_ppo()?;
        }
        Ok(())
    }
}

impl TrainConfig {
    /// PPO's options, and how the minibatches fit the rollout.
    fn validate_ppo(&self) -> Result<(), ConfigError> {
        if self.n_epochs == 0 {
            return Err(invalid("n_epochs", "must be at least 1"));
        }
        if !(self.clip_range.is_finite() && self.clip_range > 0.0) {
            return Err(invalid(
                "clip_range",
                format!("must be a positive number, got {}", self.clip_range),
            ));
        }
        for (key, v) in [
            ("clip_range_vf", self.clip_range_vf),
            ("target_kl", self.target_kl),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(invalid(
                        key,
                        format!("must be a positive number (or left unset to disable), got {v}"),
                    ));
                }
            }
        }
        if !(self.kl_coef.is_finite() && self.kl_coef >= 0.0) {
            return Err(invalid(
                "kl_coef",
                format!("must be zero (off) or positive, got {}", self.kl_coef),
            ));
        }
        if self.kl_adaptive && !(self.kl_target.is_finite() && self.kl_target > 0.0) {
            return Err(invalid(
                "kl_target",
                format!(
                    "must be positive with kl_adaptive = true, got {}",
                    self.kl_target
                ),
            ));
        }
        if self.kl_adaptive && self.kl_coef == 0.0 {
            return Err(invalid(
                "kl_coef",
                "kl_adaptive needs a positive starting kl_coef, e.g. --set kl_coef=1.0",
            ));
        }
        let rollout = self.t_max * self.workers;
        if self.batch_size == 0 || self.batch_size > rollout {
            return Err(invalid(
                "batch_size",
                format!(
                    "must be between 1 and the rollout size t_max * workers = {} * {} = {rollout}, got {}",
                    self.t_max, self.workers, self.batch_size
                ),
            ));
        }
        if self.policy == PolicyKind::Mlp {
            if !rollout.is_multiple_of(self.batch_size) {
                return Err(invalid(
                    "batch_size",
                    format!(
                        "must divide the rollout size t_max * workers = {rollout}, got {}",
                        self.batch_size
                    ),
                ));
            }
        } else if !self.batch_size.is_multiple_of(self.t_max)
            || !self.workers.is_multiple_of(self.batch_size / self.t_max)
        {
            return Err(invalid(
                "batch_size",
                format!(
                    "recurrent minibatches are whole env sequences: batch_size must be t_max ({}) times a \
                     divisor of workers ({}), e.g. {}; got {}",
                    self.t_max, self.workers, self.t_max * self.workers, self.batch_size
                ),
            ));
        }
        Ok(())
    }
}

fn parse_value(raw: &str) -> toml::Value {
    // `toml` parses documents, not bare values: wrap it in one.
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Short descriptions of every key, for `engram algos` and the docs.
pub const KEY_DOCS: &[(&str, &str)] = &[
    ("env", "environment id (`engram envs` lists them)"),
    (
        "env_options.<name>",
        "keyword option of the environment, e.g. env_options.is_slippery=false",
    ),
    ("algo", "a3c | a2c | ppo | reinforce"),
    ("seed", "master seed: workers use seed + worker index"),
    (
        "total_steps",
        "environment steps to train for, all workers together",
    ),
    (
        "workers",
        "A3C worker threads / A2C lockstep environments (default: available cores)",
    ),
    ("policy", "lstm | gru | mlp (no memory)"),
    ("hidden_size", "units of the LSTM/GRU core"),
    (
        "encoder_layers",
        "hidden layers of the MLP encoder, e.g. [64]",
    ),
    ("activation", "tanh | relu | elu"),
    (
        "discrete_encoding",
        "onehot | embedding, for discrete observations",
    ),
    ("embedding_dim", "embedding width for discrete observations"),
    (
        "ortho_init",
        "orthogonal init of encoder and heads (SB3); false = fan-in uniform weights, zero biases",
    ),
    (
        "log_std_init",
        "continuous actions: initial log-std of the Gaussian (or of gSDE's matrix)",
    ),
    (
        "use_sde",
        "continuous actions: generalized state-dependent exploration (gSDE)",
    ),
    (
        "sde_sample_freq",
        "gSDE: redraw the exploration matrix every n steps (-1 = per rollout; REINFORCE: per episode)",
    ),
    (
        "separate_critic",
        "the critic gets its own encoder and core instead of sharing the actor's",
    ),
    ("t_max", "rollout length between updates (n-step return)"),
    ("gamma", "discount factor"),
    ("gae_lambda", "GAE lambda; 1.0 = plain n-step advantage"),
    ("learning_rate", "optimizer step size"),
    (
        "lr_schedule",
        "constant | linear (decay to 0 over total_steps)",
    ),
    ("optimizer", "rmsprop | adam"),
    (
        "shared_optimizer_stats",
        "A3C: share RMSProp/Adam statistics across workers",
    ),
    ("rmsprop_alpha", "RMSProp smoothing constant"),
    ("rmsprop_eps", "RMSProp epsilon"),
    ("adam_beta1", "Adam first-moment decay"),
    ("adam_beta2", "Adam second-moment decay"),
    ("adam_eps", "Adam epsilon"),
    (
        "vf_coef",
        "weight of the value loss 0.5*mean((V-R)^2) (SB3's c is engram's 2c)",
    ),
    ("ent_coef", "entropy bonus coefficient"),
    ("max_grad_norm", "global gradient-norm clip"),
    (
        "reward_scale",
        "rewards are multiplied by this before learning (reports stay unscaled)",
    ),
    (
        "normalize_observations",
        "running mean/std observation normalisation shared by a collector's envs (VecNormalize)",
    ),
    (
        "normalize_rewards",
        "scale rewards by the running std of the discounted return (VecNormalize)",
    ),
    (
        "eval_interval",
        "greedy evaluation every this many env steps (0 = never)",
    ),
    ("eval_episodes", "episodes per evaluation"),
    ("log_interval", "a metrics row every this many env steps"),
    (
        "checkpoint_interval",
        "save the latest checkpoint every this many env steps",
    ),
    (
        "stop_at_threshold",
        "stop once the 100-episode training mean reaches the env's threshold",
    ),
    ("n_epochs", "PPO: passes over each rollout"),
    (
        "batch_size",
        "PPO: steps per minibatch (recurrent: t_max times envs per minibatch)",
    ),
    ("clip_range", "PPO: surrogate clip range epsilon"),
    (
        "clip_range_schedule",
        "PPO: constant | linear (decay to 0 over total_steps)",
    ),
    (
        "clip_range_vf",
        "PPO: value clipping around the rollout's values (unset = off)",
    ),
    (
        "target_kl",
        "PPO: stop the epochs when approx KL > 1.5 * target_kl (unset = off)",
    ),
    ("kl_coef", "PPO: KL-penalty coefficient beta (0 = off)"),
    ("kl_adaptive", "PPO: adapt kl_coef towards kl_target"),
    ("kl_target", "PPO: target KL of the adaptive penalty"),
    (
        "normalize_advantage",
        "PPO/REINFORCE: normalise advantages (PPO: per minibatch)",
    ),
    ("baseline", "REINFORCE: subtract a learned value baseline"),
    (
        "reward_to_go",
        "REINFORCE: weight steps by the return from that step on",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_parses_typed_values_and_env_options() {
        let mut c = TrainConfig::default();
        c.set("learning_rate=1e-3").unwrap();
        c.set("policy=gru").unwrap();
        c.set("encoder_layers=[32, 32]").unwrap();
        c.set("env_options.is_slippery=false").unwrap();
        c.set("env_options.map_name=8x8").unwrap();
        assert_eq!(c.learning_rate, 1e-3);
        assert_eq!(c.policy, PolicyKind::Gru);
        assert_eq!(c.encoder_layers, vec![32, 32]);
        assert_eq!(c.env_options["is_slippery"], toml::Value::Boolean(false));
        assert_eq!(c.env_options["map_name"], toml::Value::String("8x8".into()));
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        let mut c = TrainConfig::default();
        let err = c.set("learning_rat=1e-3").unwrap_err().to_string();
        assert!(err.contains("unknown field `learning_rat`"), "{err}");
        assert!(err.contains("learning_rate"), "{err}");
    }

    #[test]
    fn ill_typed_value_names_the_key() {
        let mut c = TrainConfig::default();
        let err = c.set("workers=many").unwrap_err().to_string();
        assert!(err.contains("workers"), "{err}");
        let err = c.set("policy=transformer").unwrap_err().to_string();
        assert!(err.contains("lstm"), "{err}");
    }

    #[test]
    fn validation_rejects_bad_values_with_the_key() {
        let mut c = TrainConfig {
            workers: 0,
            ..TrainConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("`workers`"));
        c.workers = 1;
        c.learning_rate = -1.0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`learning_rate`"));
        c.learning_rate = 1e-3;
        c.gamma = 1.5;
        assert!(c.validate().unwrap_err().to_string().contains("`gamma`"));
        c.gamma = 0.99;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn every_key_is_documented_for_engram_algos() {
        let documented: Vec<&str> = KEY_DOCS
            .iter()
            .map(|(k, _)| k.split('.').next().unwrap_or(k))
            .collect();
        // Optional keys are left out of the table while unset.
        let c = TrainConfig {
            clip_range_vf: Some(0.2),
            target_kl: Some(0.01),
            ..TrainConfig::default()
        };
        for key in c.to_table().keys() {
            assert!(
                documented.contains(&key.as_str()),
                "`{key}` is missing from KEY_DOCS"
            );
        }
        for key in documented {
            assert!(
                c.to_table().contains_key(key),
                "KEY_DOCS lists `{key}`, which is not a config key"
            );
        }
    }

    #[test]
    fn config_round_trips_through_toml() {
        let mut c = TrainConfig::tuned(Algo::A3c, "CartPole-v1");
        c.set("env_options.foo=1").unwrap();
        let back: TrainConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }
}
