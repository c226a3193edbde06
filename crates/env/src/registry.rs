//! Making environments by Gymnasium id, with keyword options and the registered TimeLimit.
//!
//! ```
//! use engram_env::registry::{make, Options};
//!
//! // gym.make("FrozenLake-v1", is_slippery=False), here as the CLI would pass it:
//! let options = Options::parse_assignments(["is_slippery=false"]).unwrap();
//! assert_eq!(options.get("is_slippery"), Some(&serde_json::json!(false)));
//! let err = make("CartPoleNoVel-v2", &options).err().unwrap();
//! assert!(err.to_string().contains("did you mean `CartPoleNoVel-v1`"));
//! ```
//!
//! [`make`] applies what Gymnasium's `gym.make` applies: the spec's default options under the
//! user's, the entry point, `TimeLimit(max_episode_steps)` when the spec has one, and order
//! enforcement (stepping before reset, after the end of an episode, or with an action outside
//! the action space is an error). Options the constructor did not take are an error that lists
//! the valid ones.

use crate::env::{Env, EnvError};
use crate::wrappers::{Flicker, MaskObservation, OrderEnforcing, TimeLimit};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Keyword options of `gym.make(id, **kwargs)`, as JSON values (they come from golden files,
/// `--set key=value` and TOML configs alike). Constructors *take* the options they understand;
/// whatever is left is reported as unknown.
///
/// The `take_*` getters remove the option, check its type, return the default when it is absent
/// (or JSON `null`, Python's `None`), and record the name as valid for error messages.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub values: BTreeMap<String, serde_json::Value>,
    /// Every name a constructor asked for, present or not: the valid options.
    asked: BTreeSet<String>,
    /// The id being made, for error messages (set by `make`).
    env_id: String,
}

impl PartialEq for Options {
    /// Options are equal when their values are (bookkeeping is ignored).
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id being made (set by `make` before the entry point runs): lets one entry point
    /// serve several ids, e.g. environments registered from Python.
    pub fn env_id(&self) -> &str {
        &self.env_id
    }

    /// Builder-style insertion: `Options::new().with("is_slippery", false)`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.values.insert(key.to_string(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// From a JSON object, e.g. a golden file's `make_kwargs`.
    pub fn from_json(value: &Value) -> Result<Self, EnvError> {
        match value {
            Value::Object(map) => Ok(Options {
                values: map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                ..Options::default()
            }),
            Value::Null => Ok(Options::default()),
            other => Err(EnvError::Other(format!(
                "environment options must be a JSON object such as {{\"is_slippery\": false}}, \
                 got {other}"
            ))),
        }
    }

    /// The options as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Parses a command-line value: JSON when it parses (`false`, `0.5`, `["SFFF","FHFH"]`),
    /// otherwise the text itself as a string (`map_name=8x8`).
    pub fn parse_value(text: &str) -> Value {
        serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.to_string()))
    }

    /// Parses and inserts one `key=value` assignment (`is_slippery=false`).
    pub fn set_from_str(&mut self, assignment: &str) -> Result<(), EnvError> {
        let (key, value) = assignment.split_once('=').ok_or_else(|| {
            EnvError::Other(format!(
                "environment option `{assignment}` is not of the form key=value \
                 (e.g. is_slippery=false)"
            ))
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(EnvError::Other(format!(
                "environment option `{assignment}` has an empty name (e.g. is_slippery=false)"
            )));
        }
        self.set(key, Self::parse_value(value));
        Ok(())
    }

    /// Parses `key=value` assignments, as given on the command line.
    pub fn parse_assignments<I, S>(assignments: I) -> Result<Self, EnvError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut options = Options::new();
        for a in assignments {
            options.set_from_str(a.as_ref())?;
        }
        Ok(options)
    }

    /// These options on top of `defaults` (ours win).
    pub fn merged_over(&self, defaults: &Options) -> Options {
        let mut merged = defaults.clone();
        for (k, v) in &self.values {
            merged.values.insert(k.clone(), v.clone());
        }
        merged.asked.extend(self.asked.iter().cloned());
        if merged.env_id.is_empty() {
            merged.env_id = self.env_id.clone();
        }
        merged
    }

    /// Names that constructors asked for so far (the valid options).
    pub fn valid_names(&self) -> impl Iterator<Item = &str> {
        self.asked.iter().map(String::as_str)
    }

    /// Removes an option of any type (`None` when absent or `null`) and records it as valid.
    pub fn take_json(&mut self, key: &str) -> Option<Value> {
        self.asked.insert(key.to_string());
        match self.values.remove(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn ill_typed(&self, key: &str, expected: &str, got: &Value) -> EnvError {
        EnvError::BadOption {
            id: self.env_id.clone(),
            message: format!("option `{key}` must be {expected}, got {got}"),
        }
    }

    pub fn take_opt_bool(&mut self, key: &str) -> Result<Option<bool>, EnvError> {
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            // `is_slippery=False` from a Python user's command line.
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            // 0 / 1, as Python's truthiness would take them.
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(v) => Err(self.ill_typed(key, "a boolean (true or false)", &v)),
        }
    }

    pub fn take_bool(&mut self, key: &str, default: bool) -> Result<bool, EnvError> {
        Ok(self.take_opt_bool(key)?.unwrap_or(default))
    }

    /// A finite number (every numeric option of the built-in environments is a physical
    /// constant or a probability: infinities and NaN are refused).
    pub fn take_opt_f64(&mut self, key: &str) -> Result<Option<f64>, EnvError> {
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64().filter(|x| x.is_finite()) {
                Some(x) => Ok(Some(x)),
                None => Err(self.ill_typed(key, "a finite number", &Value::Number(n))),
            },
            Some(v) => Err(self.ill_typed(key, "a finite number", &v)),
        }
    }

    /// A list of finite numbers, e.g. FrozenLake's `reward_schedule=[1, 0, 0]`.
    pub fn take_opt_f64_list(&mut self, key: &str) -> Result<Option<Vec<f64>>, EnvError> {
        let expected = "a list of finite numbers such as [1.0, 0.0, 0.0]";
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let numbers: Option<Vec<f64>> = items
                    .iter()
                    .map(|v| v.as_f64().filter(|x| x.is_finite()))
                    .collect();
                match numbers {
                    Some(list) => Ok(Some(list)),
                    None => Err(self.ill_typed(key, expected, &Value::Array(items))),
                }
            }
            Some(v) => Err(self.ill_typed(key, expected, &v)),
        }
    }

    pub fn take_f64(&mut self, key: &str, default: f64) -> Result<f64, EnvError> {
        Ok(self.take_opt_f64(key)?.unwrap_or(default))
    }

    pub fn take_opt_i64(&mut self, key: &str) -> Result<Option<i64>, EnvError> {
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i));
                }
                match n.as_f64() {
                    // `3.0` from a TOML float is still an integer.
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Some(x as i64)),
                    _ => Err(self.ill_typed(key, "an integer", &Value::Number(n))),
                }
            }
            Some(v) => Err(self.ill_typed(key, "an integer", &v)),
        }
    }

    pub fn take_i64(&mut self, key: &str, default: i64) -> Result<i64, EnvError> {
        Ok(self.take_opt_i64(key)?.unwrap_or(default))
    }

    pub fn take_opt_usize(&mut self, key: &str) -> Result<Option<usize>, EnvError> {
        match self.take_opt_i64(key)? {
            None => Ok(None),
            Some(i) if i >= 0 => Ok(Some(i as usize)),
            Some(i) => Err(self.ill_typed(key, "a non-negative integer", &Value::from(i))),
        }
    }

    pub fn take_usize(&mut self, key: &str, default: usize) -> Result<usize, EnvError> {
        Ok(self.take_opt_usize(key)?.unwrap_or(default))
    }

    pub fn take_opt_str(&mut self, key: &str) -> Result<Option<String>, EnvError> {
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.ill_typed(key, "a string", &v)),
        }
    }

    pub fn take_str(&mut self, key: &str, default: &str) -> Result<String, EnvError> {
        Ok(self
            .take_opt_str(key)?
            .unwrap_or_else(|| default.to_string()))
    }

    /// A list of strings, e.g. FrozenLake's `desc=["SFFF","FHFH","FFFH","HFFG"]`.
    pub fn take_opt_str_list(&mut self, key: &str) -> Result<Option<Vec<String>>, EnvError> {
        let expected = "a list of strings such as [\"SFFF\",\"FHFH\"]";
        match self.take_json(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in &items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        _ => return Err(self.ill_typed(key, expected, &Value::Array(items))),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.ill_typed(key, expected, &v)),
        }
    }

    pub fn take_str_list(&mut self, key: &str, default: &[&str]) -> Result<Vec<String>, EnvError> {
        Ok(self
            .take_opt_str_list(key)?
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
    }

    /// Errors on every option nobody took, listing the valid ones (called by `make` after the
    /// entry point).
    pub fn check_all_taken(&self) -> Result<(), EnvError> {
        let Some(unknown) = self.values.keys().next() else {
            return Ok(());
        };
        let names: Vec<&str> = self.unknown_names().collect();
        let what = if names.len() == 1 {
            format!("unknown option `{unknown}`")
        } else {
            format!("unknown options `{}`", names.join("`, `"))
        };
        // make's own options (always valid) do not count as the constructor's declaration.
        let valid: Vec<&str> = self.valid_names().collect();
        let declared = valid
            .iter()
            .any(|v| !matches!(*v, "max_episode_steps" | "render_mode"));
        let hint = closest(unknown, valid.iter().copied(), 1)
            .first()
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        let id = &self.env_id;
        let message = if declared {
            format!("{what}{hint}; valid options: {}", valid.join(", "))
        } else {
            format!(
                "{what}: its constructor declares no options (through Options::take_*); \
                 make itself takes {}",
                valid.join(", ")
            )
        };
        Err(EnvError::BadOption {
            id: id.clone(),
            message,
        })
    }

    fn unknown_names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
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

impl EnvSpec {
    /// A spec with no time limit, threshold, default options or description.
    pub fn new(id: &str, entry_point: EntryPoint) -> Self {
        EnvSpec {
            id: id.to_string(),
            max_episode_steps: None,
            reward_threshold: None,
            default_options: Options::default(),
            entry_point,
            description: String::new(),
        }
    }

    pub fn with_max_episode_steps(mut self, max_episode_steps: usize) -> Self {
        self.max_episode_steps = Some(max_episode_steps);
        self
    }

    pub fn with_reward_threshold(mut self, reward_threshold: f64) -> Self {
        self.reward_threshold = Some(reward_threshold);
        self
    }

    pub fn with_default_option(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.default_options.set(key, value);
        self
    }

    pub fn with_description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }
}

struct Registry {
    specs: BTreeMap<String, EnvSpec>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut specs = BTreeMap::new();
        for spec in crate::builtin::builtin_specs()
            .into_iter()
            .chain(core_specs())
        {
            specs.insert(spec.id.clone(), spec);
        }
        RwLock::new(Registry { specs })
    })
}

// A panic while holding the lock cannot leave the map half-updated (inserts are atomic), so a
// poisoned lock is still usable.
fn read() -> RwLockReadGuard<'static, Registry> {
    registry().read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, Registry> {
    registry().write().unwrap_or_else(|e| e.into_inner())
}

/// Registers a user environment under `spec.id`; an id that is already registered is an error
/// (built-in ids included).
pub fn register(spec: EnvSpec) -> Result<(), EnvError> {
    if spec.id.trim().is_empty() {
        return Err(EnvError::Other(
            "cannot register an environment with an empty id (use e.g. `MyEnv-v0`)".into(),
        ));
    }
    let mut registry = write();
    if registry.specs.contains_key(&spec.id) {
        return Err(EnvError::Other(format!(
            "environment id `{}` is already registered: choose another id or version \
             (e.g. `{}`)",
            spec.id,
            next_version(&spec.id)
        )));
    }
    registry.specs.insert(spec.id.clone(), spec);
    Ok(())
}

fn next_version(id: &str) -> String {
    match id.rsplit_once("-v") {
        Some((base, v)) => match v.parse::<u32>() {
            Ok(v) => format!("{base}-v{}", v + 1),
            Err(_) => format!("{id}-v1"),
        },
        None => format!("{id}-v0"),
    }
}

/// The spec registered under `id`.
pub fn spec(id: &str) -> Result<EnvSpec, EnvError> {
    let registry = read();
    match registry.specs.get(id) {
        Some(spec) => Ok(spec.clone()),
        None => Err(unknown_id(id, &registry)),
    }
}

/// Every registered id, sorted.
pub fn ids() -> Vec<String> {
    read().specs.keys().cloned().collect()
}

/// Every registered spec, sorted by id (for `engram envs`).
pub fn specs() -> Vec<EnvSpec> {
    read().specs.values().cloned().collect()
}

/// Up to `max` candidates closest to `query` by edit distance (case-insensitive; a candidate
/// containing the query counts as close), nearest first.
fn closest<'a>(query: &str, candidates: impl Iterator<Item = &'a str>, max: usize) -> Vec<&'a str> {
    let q = query.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let distance = strsim::levenshtein(&q, &lc);
            let close =
                distance <= (q.len().max(lc.len()) / 3).max(2) || (q.len() >= 3 && lc.contains(&q));
            close.then_some((distance, c))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(max).map(|(_, c)| c).collect()
}

fn unknown_id(id: &str, registry: &Registry) -> EnvError {
    let near = closest(id, registry.specs.keys().map(String::as_str), 3);
    let suggestion = if near.is_empty() {
        "; run `engram envs` to list the registered ids".to_string()
    } else {
        format!("; did you mean {}?", quoted_list(&near))
    };
    EnvError::UnknownId {
        id: id.to_string(),
        suggestion,
    }
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// `gym.make(id, **options)`: see the module documentation.
pub fn make(id: &str, options: &Options) -> Result<Box<dyn Env>, EnvError> {
    make_with(id, options, None)
}

/// [`make`] with the spec's `max_episode_steps` overridden (`None`: keep the spec's). The
/// option `max_episode_steps` does the same from the command line; this argument wins over it.
pub fn make_with(
    id: &str,
    options: &Options,
    max_episode_steps: Option<usize>,
) -> Result<Box<dyn Env>, EnvError> {
    let (env, limit) = make_bare(id, options, max_episode_steps)?;
    Ok(match limit {
        Some(limit) => Box::new(OrderEnforcing::new(TimeLimit::new(env, limit)?)),
        None => Box::new(OrderEnforcing::new(env)),
    })
}

/// What [`make_with`] wraps, and the step limit its `TimeLimit` would have (`None`: none).
/// For a caller that keeps the API's order and counts the steps itself (the tabular runner,
/// whose hot loop loses a fifth of its time to the two wrappers' dynamic calls otherwise):
/// it must truncate at the limit exactly as `TimeLimit` does.
pub fn make_bare(
    id: &str,
    options: &Options,
    max_episode_steps: Option<usize>,
) -> Result<(Box<dyn Env>, Option<usize>), EnvError> {
    let spec = spec(id)?;
    let mut options = options.merged_over(&spec.default_options);
    options.env_id = spec.id.clone();
    // gym.make's own keyword arguments.
    let limit_option = options.take_opt_usize("max_episode_steps")?;
    let _render_mode = options.take_opt_str("render_mode")?; // engram renders on request
    let env = (spec.entry_point)(&mut options).map_err(|e| with_env_id(e, &spec.id))?;
    options.check_all_taken()?;
    let limit = max_episode_steps
        .or(limit_option)
        .or(spec.max_episode_steps);
    if limit == Some(0) {
        return Err(EnvError::BadOption {
            id: spec.id,
            message: "max_episode_steps must be at least 1".into(),
        });
    }
    Ok((env, limit))
}

/// The environment as the entry point builds it, without TimeLimit or order enforcement, with
/// the spec's default options under `options`. Options are taken from `options` (so that an
/// entry point can build on another id and leave the unknown-option check to `make`).
pub fn make_unwrapped(id: &str, options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let spec = spec(id)?;
    for (k, v) in &spec.default_options.values {
        options.values.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (spec.entry_point)(options)
}

/// Fills in the id of errors raised by options getters called outside `make`.
fn with_env_id(error: EnvError, id: &str) -> EnvError {
    match error {
        EnvError::BadOption { id: found, message } if found.is_empty() => EnvError::BadOption {
            id: id.to_string(),
            message,
        },
        other => other,
    }
}

/// Ids registered by the infrastructure itself: rl-zoo's partial-observability variants of
/// CartPole, built on whatever `CartPole-v1` is registered.
fn core_specs() -> Vec<EnvSpec> {
    vec![
        EnvSpec::new("CartPoleNoVel-v1", cartpole_no_velocity)
            .with_max_episode_steps(500)
            .with_reward_threshold(475.0)
            .with_description(
                "CartPole-v1 with the velocities x_dot and theta_dot masked to 0 (rl-zoo)",
            ),
        EnvSpec::new("CartPoleFlicker-v1", cartpole_flicker)
            .with_max_episode_steps(500)
            .with_reward_threshold(475.0)
            .with_default_option("p", 0.5)
            .with_description(
                "CartPole-v1 whose observation is all zeros with probability p (default 0.5)",
            ),
    ]
}

fn cartpole_no_velocity(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let cartpole = make_unwrapped("CartPole-v1", options)?;
    Ok(Box::new(MaskObservation::velocity(
        cartpole,
        "CartPole-v1",
    )?))
}

fn cartpole_flicker(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let p = options.take_f64("p", 0.5)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(EnvError::BadOption {
            id: options.env_id.clone(),
            message: format!("option `p` (flicker probability) must be in [0, 1], got {p}"),
        });
    }
    let cartpole = make_unwrapped("CartPole-v1", options)?;
    Ok(Box::new(Flicker::new(cartpole, p)?))
}
