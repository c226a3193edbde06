//! Making environments by Gymnasium id, with keyword options and the registered TimeLimit.
//! (Types fixed by the lead; `make`, `register`, suggestions etc. filled in by the env-core work.)

use crate::env::{Env, EnvError};
use std::collections::BTreeMap;

/// Keyword options of `gym.make(id, **kwargs)`, as JSON values (they come from golden files,
/// `--set key=value` and TOML configs alike). Constructors *take* the options they understand;
/// whatever is left is reported as unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub values: BTreeMap<String, serde_json::Value>,
}

/// Builds the unwrapped environment from its options.
pub type EntryPoint = fn(&mut Options) -> Result<Box<dyn Env>, EnvError>;

/// A registered environment: Gymnasium's `EnvSpec`, reduced to what engram uses.
#[derive(Clone, Debug)]
pub struct EnvSpec {
    pub id: String,
    /// Applied as a `TimeLimit` by `make` (Gymnasium's `max_episode_steps`).
    pub max_episode_steps: Option<usize>,
    /// The return at which the task counts as solved (Gymnasium's `reward_threshold`).
    pub reward_threshold: Option<f64>,
    /// Options applied before the user's (e.g. `FrozenLake8x8-v1` = `map_name="8x8"`).
    pub default_options: Options,
    pub entry_point: EntryPoint,
    /// One line for `engram envs`.
    pub description: String,
}
