//! What every run has, whatever the algorithm: the environment, the seed, the budget and the
//! run's rhythm (log, evaluate, checkpoint).

use super::{invalid, ConfigError};
use engram_env::{Env, EnvError, Options};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommonConfig {
    pub env: String,
    /// Keyword options of the environment (`gym.make(id, **env_options)`).
    pub env_options: BTreeMap<String, toml::Value>,
    /// The algorithm's registry name (`engram algos` lists them).
    pub algo: String,
    pub seed: u64,
    /// Environment steps to train for (all workers and environments together).
    pub total_steps: u64,
    /// Training episodes to train for (unset: no episode budget). With both budgets the run
    /// stops at the first one reached.
    pub total_episodes: Option<u64>,
    pub eval_interval: u64,
    pub eval_episodes: usize,
    pub log_interval: u64,
    pub checkpoint_interval: u64,
    pub stop_at_threshold: bool,
    /// Write TensorBoard event files (`tb/`) beside metrics.csv.
    pub tensorboard: bool,
    /// Draw `curve.png` at the run's end.
    pub curve_png: bool,
    /// Write `monitor.csv` and `episodes.csv` (a row per training episode).
    pub episode_logs: bool,
}

impl Default for CommonConfig {
    fn default() -> Self {
        CommonConfig {
            env: "CartPole-v1".into(),
            env_options: BTreeMap::new(),
            algo: "a3c".into(),
            seed: 0,
            total_steps: 1_000_000,
            total_episodes: None,
            eval_interval: 50_000,
            eval_episodes: 10,
            log_interval: 10_000,
            checkpoint_interval: 200_000,
            stop_at_threshold: false,
            tensorboard: true,
            curve_png: true,
            episode_logs: true,
        }
    }
}

/// The first NaN or infinity in a TOML value, nested arrays and tables included.
fn non_finite(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(v) if !v.is_finite() => Some(*v),
        toml::Value::Array(items) => items.iter().find_map(non_finite),
        toml::Value::Table(table) => table.values().find_map(non_finite),
        _ => None,
    }
}

impl CommonConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.env.trim().is_empty() {
            return Err(invalid(
                "env",
                "must name an environment id; `engram envs` lists them",
            ));
        }
        if self.total_steps == 0 {
            return Err(invalid("total_steps", "must be at least 1"));
        }
        if self.total_episodes == Some(0) {
            return Err(invalid(
                "total_episodes",
                "must be at least 1 (leave it unset for no episode budget)",
            ));
        }
        // TOML integers are i64: a larger value could not be written to config.toml, and the
        // run could not be resumed.
        for (key, v) in [
            ("seed", self.seed),
            ("total_steps", self.total_steps),
            ("total_episodes", self.total_episodes.unwrap_or(0)),
        ] {
            if v > i64::MAX as u64 {
                return Err(invalid(
                    key,
                    format!("must be at most {} (2^63 - 1), got {v}", i64::MAX),
                ));
            }
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
        // JSON, which the environments read their options as, has no NaN or infinity: such a
        // value would silently become the option's default.
        for (name, value) in &self.env_options {
            if let Some(bad) = non_finite(value) {
                return Err(invalid(
                    &format!("env_options.{name}"),
                    format!("must hold finite numbers only, got {bad}"),
                ));
            }
        }
        Ok(())
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

    /// Makes the configured environment (with its registered time limit).
    pub fn make_env(&self) -> Result<Box<dyn Env>, EnvError> {
        let mut options = Options::new();
        options.values = self.env_options_json();
        engram_env::registry::make(&self.env, &options)
    }

    /// [`CommonConfig::make_env`] without its order-enforcing and time-limit wrappers, and
    /// the step limit (`None`: none), for a caller that keeps the API's order and truncates
    /// at the limit itself.
    pub fn make_bare_env(&self) -> Result<(Box<dyn Env>, Option<usize>), EnvError> {
        let mut options = Options::new();
        options.values = self.env_options_json();
        engram_env::registry::make_bare(&self.env, &options, None)
    }

    /// The environment's registered reward threshold, if any.
    pub fn reward_threshold(&self) -> Option<f64> {
        engram_env::registry::spec(&self.env)
            .ok()
            .and_then(|s| s.reward_threshold)
    }
}
