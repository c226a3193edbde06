//! Replaying reference trajectories (`rl-golden/1` files, see `shared/oracles/README.md`)
//! against engram's environments: the engine behind `engram env replay FILE.json` and the
//! parity tests.
//!
//! For each rollout: make the environment for the file's `env_id` and `make_kwargs`, reset with
//! the recorded seed, step the recorded actions, and compare every observation (f32,
//! bit-exact), reward (f64, exact), terminated/truncated flag, internal `state` (f64, exact)
//! and toy text `info`; after an episode ends, reset with the recorded seed (`seed + 1000*k`).
//! The registered `TimeLimit` is applied here by a step counter.
//!
//! Random draws, two strategies ([`RngStrategy`]):
//! * `Pcg64`: the environment draws from engram's port of numpy's generator (PCG64, or
//!   MT19937 for MinAtar's legacy `RandomState`); every draw is
//!   logged and checked against the recorded `rng` entries.
//! * `Inject`: the recorded draws are handed to the environment instead (the README's
//!   recommended path; it proves the dynamics independently of the generator).
//!
//! `Auto` (the default) uses `Pcg64` when it reproduces the whole file, else `Inject`, and the
//! report says which. (All built-in files replay with `Pcg64`.)
//!
//! Episodes are replayed whole from the reset, Acrobot included: its RK4 follows Gymnasium's
//! operation order (and libm `pow` for NumPy's `**2`), so even this chaotic system stays
//! bit-exact over 500 steps. The README's fallback for drifting systems, comparing one step at a
//! time from the previous record's state, is available as [`ReplayOptions::resync_state`].

use crate::env::{Env, EnvError, InfoValue};
use crate::registry::Options;
use crate::rng::{json_values_equal, Draw};
use crate::space::{Action, Space};
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// How the environment's random draws are produced during a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RngStrategy {
    /// `Pcg64` if it reproduces the file exactly, else `Inject`.
    #[default]
    Auto,
    /// engram's numpy PCG64 port, each draw checked against the recording.
    Pcg64,
    /// The recorded draws are injected in place of generated ones.
    Inject,
}

/// Replay settings.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    pub rng: RngStrategy,
    /// Set the environment's state from the previous record's `state` before every step
    /// (for ports whose long-horizon replay drifts). Default: whole episodes.
    pub resync_state: bool,
}

/// Where a mismatch happened and what differed.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// Index of the step record (0-based, counting across episodes); `None` for the rollout's
    /// first reset.
    pub step: Option<usize>,
    /// `true` when the mismatch is in the reset that followed step `step`.
    pub in_reset: bool,
    /// `obs`, `r`, `term`, `trunc`, `state`, `info.prob`, `rng`, `env` ...
    pub field: String,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.step, self.in_reset) {
            (None, _) => write!(f, "first reset")?,
            (Some(s), false) => write!(f, "step {s}")?,
            (Some(s), true) => write!(f, "reset after step {s}")?,
        }
        write!(
            f,
            ", {}: expected {}, got {}",
            self.field, self.expected, self.got
        )
    }
}

/// One rollout (one seed) of a golden file.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutReport {
    pub seed: u64,
    /// Step records compared (all of them when nothing mismatched).
    pub steps_compared: usize,
    pub steps_recorded: usize,
    /// Resets compared, the first one included.
    pub resets_compared: usize,
    pub first_mismatch: Option<Mismatch>,
}

/// The result of replaying one file.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
    pub file: String,
    pub env_id: String,
    pub make_kwargs: String,
    /// The strategy that produced these results (never `Auto`).
    pub rng_strategy: RngStrategy,
    /// Whether steps were compared one at a time from the recorded state.
    pub resync_state: bool,
    /// Remarks, e.g. why `Auto` fell back to injection.
    pub notes: Vec<String>,
    pub rollouts: Vec<RolloutReport>,
}

impl ReplayReport {
    pub fn all_matched(&self) -> bool {
        !self.rollouts.is_empty()
            && self
                .rollouts
                .iter()
                .all(|r| r.first_mismatch.is_none() && r.steps_compared == r.steps_recorded)
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rng = match self.rng_strategy {
            RngStrategy::Pcg64 => "engram's numpy generator port, PCG64 or MinAtar's MT19937 (each draw checked against the recording)",
            RngStrategy::Inject => "recorded draws injected",
            RngStrategy::Auto => "auto",
        };
        writeln!(f, "{} ({} {})", self.file, self.env_id, self.make_kwargs)?;
        writeln!(f, "  random draws: {rng}")?;
        if self.resync_state {
            writeln!(
                f,
                "  state: resynchronised from the recording before each step"
            )?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        for r in &self.rollouts {
            match &r.first_mismatch {
                None => writeln!(
                    f,
                    "  seed {}: OK, {}/{} steps and {} resets match",
                    r.seed, r.steps_compared, r.steps_recorded, r.resets_compared
                )?,
                Some(m) => writeln!(
                    f,
                    "  seed {}: MISMATCH after {} matching steps: {m}",
                    r.seed, r.steps_compared
                )?,
            }
        }
        writeln!(
            f,
            "  {}",
            if self.all_matched() {
                "all matched"
            } else {
                "NOT all matched"
            }
        )
    }
}

/// Why a file could not be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}: unknown environment `{env_id}` (family {family}): engram has no environment with this id, so the file cannot be replayed")]
    UnknownEnvironment {
        path: String,
        env_id: String,
        family: String,
    },
    #[error("{path}: cannot make `{env_id}`: {source}")]
    Make {
        path: String,
        env_id: String,
        source: EnvError,
    },
}

/// Replays a golden file with the default options (`Auto` draws).
pub fn replay_file(path: &Path) -> Result<ReplayReport, ReplayError> {
    replay_file_with(path, &ReplayOptions::default())
}

pub fn replay_file_with(path: &Path, options: &ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
        path: name.clone(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| ReplayError::Json {
        path: name.clone(),
        source,
    })?;
    replay_value(&name, &value, options)
}

/// Replays an already parsed golden file; `name` labels the report and errors.
pub fn replay_value(
    name: &str,
    golden: &Value,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let file = GoldenFile::parse(name, golden)?;
    let resync = options.resync_state;
    let run = |strategy| -> Result<ReplayReport, ReplayError> {
        let rollouts = file
            .rollouts
            .iter()
            .map(|r| replay_rollout(&file, r, strategy, resync))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReplayReport {
            file: name.to_string(),
            env_id: file.env_id.clone(),
            make_kwargs: file.make_kwargs.to_string(),
            rng_strategy: strategy,
            resync_state: resync,
            notes: Vec::new(),
            rollouts,
        })
    };
    match options.rng {
        RngStrategy::Pcg64 => run(RngStrategy::Pcg64),
        RngStrategy::Inject => run(RngStrategy::Inject),
        RngStrategy::Auto => {
            let pcg = run(RngStrategy::Pcg64)?;
            if pcg.all_matched() {
                return Ok(pcg);
            }
            let mut injected = run(RngStrategy::Inject)?;
            let why = pcg
                .rollouts
                .iter()
                .find_map(|r| {
                    r.first_mismatch
                        .as_ref()
                        .map(|m| format!("seed {}: {m}", r.seed))
                })
                .unwrap_or_else(|| "incomplete".into());
            injected.notes.push(format!(
                "the PCG64 port did not reproduce the file ({why}); used injected draws"
            ));
            Ok(injected)
        }
    }
}

// ------------------------------------------------------------------------------ file model

struct GoldenFile<'a> {
    name: String,
    env_id: String,
    make_kwargs: &'a Value,
    max_episode_steps: Option<usize>,
    obs_encoding: String,
    family: String,
    rollouts: Vec<&'a Value>,
}

impl<'a> GoldenFile<'a> {
    fn parse(name: &str, v: &'a Value) -> Result<Self, ReplayError> {
        let fail = |message: String| ReplayError::Format {
            path: name.to_string(),
            message,
        };
        let format = v.get("format").and_then(Value::as_str).unwrap_or("");
        if format != "rl-golden/1" {
            return Err(fail(format!(
                "expected \"format\": \"rl-golden/1\", found {:?} (is this a golden trajectory file?)",
                v.get("format")
            )));
        }
        let env_id = v
            .get("env_id")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("missing \"env_id\"".into()))?
            .to_string();
        let make_kwargs = v
            .get("make_kwargs")
            .filter(|k| k.is_object())
            .ok_or_else(|| fail("missing \"make_kwargs\" object".into()))?;
        let max_episode_steps = match v.get("max_episode_steps") {
            None | Some(Value::Null) => None,
            Some(x) => Some(x.as_u64().ok_or_else(|| {
                fail(format!(
                    "\"max_episode_steps\" must be an integer or null, got {x}"
                ))
            })? as usize),
        };
        let obs_encoding = v
            .get("obs_encoding")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("missing \"obs_encoding\"".into()))?
            .to_string();
        let rollouts: Vec<&Value> = v
            .get("rollouts")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("missing \"rollouts\" list".into()))?
            .iter()
            .collect();
        Ok(GoldenFile {
            name: name.to_string(),
            env_id,
            make_kwargs,
            max_episode_steps,
            obs_encoding,
            family: v
                .get("family")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            rollouts,
        })
    }

    fn format_error(&self, message: String) -> ReplayError {
        ReplayError::Format {
            path: self.name.clone(),
            message,
        }
    }
}

// ------------------------------------------------------------------------------ replay

/// The comparison outcome of one reset/step: `Err` carries the mismatch.
type Check = Result<(), Mismatch>;

fn mismatch(field: &str, expected: impl fmt::Display, got: impl fmt::Display) -> Mismatch {
    Mismatch {
        step: None,
        in_reset: false,
        field: field.to_string(),
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

struct Replayer<'f> {
    file: &'f GoldenFile<'f>,
    env: Box<dyn Env>,
    obs: Vec<f32>,
    strategy: RngStrategy,
    elapsed: usize,
}

fn make_env(file: &GoldenFile<'_>, golden_family: &str) -> Result<Box<dyn Env>, ReplayError> {
    let mut options = Options::default();
    if let Some(obj) = file.make_kwargs.as_object() {
        for (k, v) in obj {
            options.values.insert(k.clone(), v.clone());
        }
    }
    match crate::builtin::make_unwrapped(&file.env_id, &options) {
        Ok((env, _spec)) => Ok(env),
        Err(EnvError::UnknownId { .. }) => Err(ReplayError::UnknownEnvironment {
            path: file.name.clone(),
            env_id: file.env_id.clone(),
            family: golden_family.to_string(),
        }),
        Err(source) => Err(ReplayError::Make {
            path: file.name.clone(),
            env_id: file.env_id.clone(),
            source,
        }),
    }
}

fn replay_rollout(
    file: &GoldenFile<'_>,
    rollout: &Value,
    strategy: RngStrategy,
    resync: bool,
) -> Result<RolloutReport, ReplayError> {
    let env = make_env(file, &family_or(&file.family, &file.env_id))?;
    let seed = rollout
        .get("seed")
        .and_then(Value::as_u64)
        .ok_or_else(|| file.format_error("a rollout has no integer \"seed\"".into()))?;
    let first_reset = rollout
        .get("reset")
        .ok_or_else(|| file.format_error(format!("rollout {seed} has no \"reset\"")))?;
    let steps = rollout
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| file.format_error(format!("rollout {seed} has no \"steps\" list")))?;
    let obs = vec![0.0; env.observation_space().flat_dim()];
    let mut r = Replayer {
        file,
        env,
        obs,
        strategy,
        elapsed: 0,
    };
    let mut report = RolloutReport {
        seed,
        steps_compared: 0,
        steps_recorded: steps.len(),
        resets_compared: 0,
        first_mismatch: None,
    };
    if let Err(m) = r.reset(first_reset) {
        report.first_mismatch = Some(m);
        return Ok(report);
    }
    report.resets_compared = 1;
    let mut prev_state = first_reset.get("state");
    for (i, rec) in steps.iter().enumerate() {
        if resync {
            if let Some(state) = prev_state.and_then(as_f64_vec) {
                if let Err(e) = r.env.set_state(&state) {
                    report.first_mismatch = Some(Mismatch {
                        step: Some(i),
                        ..mismatch("state", "an environment that accepts set_state", e)
                    });
                    return Ok(report);
                }
            }
        }
        if let Err(m) = r.step(rec) {
            report.first_mismatch = Some(Mismatch { step: Some(i), ..m });
            return Ok(report);
        }
        report.steps_compared += 1;
        prev_state = rec.get("state");
        if let Some(reset) = rec.get("reset") {
            if let Err(m) = r.reset(reset) {
                report.first_mismatch = Some(Mismatch {
                    step: Some(i),
                    in_reset: true,
                    ..m
                });
                return Ok(report);
            }
            report.resets_compared += 1;
            prev_state = reset.get("state");
        }
    }
    Ok(report)
}

fn family_or(family: &str, env_id: &str) -> String {
    if family != "unknown" {
        return family.to_string();
    }
    if env_id.starts_with("MinAtar") {
        "minatar".into()
    } else if env_id.starts_with("popgym") {
        "popgym".into()
    } else {
        "unknown".into()
    }
}

fn as_f64_vec(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

fn parse_draws(v: Option<&Value>) -> Result<Vec<Draw>, Mismatch> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|d| Draw::from_json(d).map_err(|e| mismatch("rng", "well-formed draws", e)))
            .collect(),
        Some(other) => Err(mismatch("rng", "a list of draws", other)),
    }
}

impl Replayer<'_> {
    /// Prepares the environment's random source for one reset/step.
    fn before(&mut self, rec: &Value) -> Check {
        let draws = parse_draws(rec.get("rng"))?;
        let has_draws = !draws.is_empty();
        match (self.env.rng_mut(), self.strategy) {
            (Some(rng), RngStrategy::Inject) => rng.inject(draws),
            (Some(rng), _) => rng.start_log(),
            (None, _) if has_draws => {
                return Err(mismatch(
                    "rng",
                    "an environment with a random source (EnvRng)",
                    "an environment without rng_mut()",
                ))
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// Checks the draws made during one reset/step.
    fn after(&mut self, rec: &Value) -> Check {
        let expected = parse_draws(rec.get("rng"))?;
        let Some(rng) = self.env.rng_mut() else {
            return Ok(());
        };
        if self.strategy == RngStrategy::Inject {
            return rng
                .finish_injected()
                .map_err(|e| mismatch("rng", "the recorded draws", e));
        }
        let got = rng.take_log();
        for (i, e) in expected.iter().enumerate() {
            match got.get(i) {
                None => return Err(mismatch(&format!("rng[{i}]"), e, "no draw")),
                Some(g) if g.method != e.method || !json_values_equal(&g.result, &e.result) => {
                    return Err(mismatch(&format!("rng[{i}]"), e, g))
                }
                Some(_) => {}
            }
        }
        if got.len() > expected.len() {
            return Err(mismatch(
                &format!("rng[{}]", expected.len()),
                "no further draw",
                &got[expected.len()],
            ));
        }
        Ok(())
    }

    fn reset(&mut self, rec: &Value) -> Check {
        let seed = rec.get("seed").and_then(Value::as_u64).ok_or_else(|| {
            mismatch(
                "seed",
                "an integer reset seed",
                rec.get("seed").unwrap_or(&Value::Null),
            )
        })?;
        self.inject_maze(rec)?;
        self.before(rec)?;
        let result = self.env.reset(Some(seed), &mut self.obs);
        // Take the draws first so an rng problem is reported as such.
        self.after(rec)?;
        result.map_err(|e| mismatch("reset", "success", e))?;
        self.elapsed = 0;
        self.compare_obs(rec)?;
        self.compare_state(rec)?;
        self.compare_info(rec)
    }

    fn step(&mut self, rec: &Value) -> Check {
        let a = rec
            .get("a")
            .ok_or_else(|| mismatch("a", "an action", "nothing"))?;
        let space = self.env.action_space().clone();
        let (ints, floats) = parse_action(a, &space)
            .map_err(|e| mismatch("a", "an action of the action space", e))?;
        let action = match &space {
            Space::Discrete { .. } => Action::Discrete(ints[0]),
            Space::MultiDiscrete { .. } => Action::MultiDiscrete(&ints),
            _ => Action::Continuous(&floats),
        };
        self.before(rec)?;
        let result = self.env.step(action, &mut self.obs);
        self.after(rec)?;
        let mut step = result.map_err(|e| mismatch("step", "success", e))?;
        self.elapsed += 1;
        if let Some(max) = self.file.max_episode_steps {
            if self.elapsed >= max {
                step.truncated = true;
            }
        }
        self.compare_obs(rec)?;
        let r = rec
            .get("r")
            .and_then(Value::as_f64)
            .ok_or_else(|| mismatch("r", "a number", "none recorded"))?;
        if step.reward != r {
            return Err(mismatch("r", fmt_f64(r), fmt_f64(step.reward)));
        }
        for (field, got) in [("term", step.terminated), ("trunc", step.truncated)] {
            let expected = rec.get(field).and_then(Value::as_bool);
            if expected != Some(got) {
                return Err(mismatch(field, fmt_opt(expected), got));
            }
        }
        self.compare_state(rec)?;
        self.compare_info(rec)?;
        if step.done() != rec.get("reset").is_some() {
            return Err(mismatch(
                "reset",
                if rec.get("reset").is_some() {
                    "a reset after this step"
                } else {
                    "no reset"
                },
                "the opposite",
            ));
        }
        Ok(())
    }

    fn compare_obs(&self, rec: &Value) -> Check {
        let v = rec
            .get("obs")
            .ok_or_else(|| mismatch("obs", "a recorded observation", "none"))?;
        let expected = decode_obs(v, &self.file.obs_encoding, self.obs.len())
            .map_err(|e| mismatch("obs", "a decodable observation", e))?;
        let same = expected.len() == self.obs.len()
            && expected
                .iter()
                .zip(&self.obs)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            return Err(mismatch("obs", fmt_f32s(&expected), fmt_f32s(&self.obs)));
        }
        Ok(())
    }

    /// POPGym's mazes come from Python's `random` (not recorded): the reset's `state.grid` is
    /// handed to the environment before the reset, which then starts on that maze.
    fn inject_maze(&mut self, rec: &Value) -> Check {
        let Some(grid) = rec.get("state").and_then(|s| s.get("grid")) else {
            return Ok(());
        };
        let mut flat = Vec::new();
        for row in grid.as_array().into_iter().flatten() {
            for cell in row.as_array().into_iter().flatten() {
                flat.push(
                    cell.as_f64()
                        .ok_or_else(|| mismatch("state.grid", "numbers", cell))?,
                );
            }
        }
        self.env.set_state(&flat).map_err(|e| {
            mismatch(
                "state.grid",
                "an environment that accepts the recorded maze",
                e,
            )
        })
    }

    fn compare_state(&self, rec: &Value) -> Check {
        let Some(v) = rec.get("state") else {
            return Ok(());
        };
        // POPGym mazes record `{"position": [y, x]}`: compare it with `state()`.
        let v = v.get("position").unwrap_or(v);
        let Some(expected) = as_f64_vec(v) else {
            // Other non-numeric states are not compared.
            return Ok(());
        };
        let got = self
            .env
            .state()
            .ok_or_else(|| mismatch("state", v, "an environment without state()"))?;
        let same = got.len() == expected.len() && got.iter().zip(&expected).all(|(a, b)| a == b);
        if !same {
            let fmt = |s: &[f64]| {
                format!(
                    "[{}]",
                    s.iter().map(|x| fmt_f64(*x)).collect::<Vec<_>>().join(", ")
                )
            };
            return Err(mismatch("state", fmt(&expected), fmt(&got)));
        }
        Ok(())
    }

    fn compare_info(&self, rec: &Value) -> Check {
        let Some(obj) = rec.get("info").and_then(Value::as_object) else {
            return Ok(());
        };
        let info = self.env.info();
        for (key, expected) in obj {
            let field = format!("info.{key}");
            let got = info
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| info_json(v))
                .ok_or_else(|| mismatch(&field, expected, "absent"))?;
            if !json_values_equal(expected, &got) {
                return Err(mismatch(&field, expected, got));
            }
        }
        Ok(())
    }
}

fn info_json(v: &InfoValue) -> Value {
    match v {
        InfoValue::Float(x) => Value::from(*x),
        InfoValue::Int(x) => Value::from(*x),
        InfoValue::Bool(x) => Value::from(*x),
        InfoValue::Ints(x) => Value::from(x.clone()),
        InfoValue::Floats(x) => Value::from(x.clone()),
    }
}

/// A recorded action as integers (Discrete, MultiDiscrete) or f32s (Box).
fn parse_action(a: &Value, space: &Space) -> Result<(Vec<i64>, Vec<f32>), String> {
    let ints = |v: &Value| -> Result<Vec<i64>, String> {
        match v {
            Value::Array(xs) => xs
                .iter()
                .map(|x| x.as_i64().ok_or_else(|| format!("{x}")))
                .collect(),
            x => x.as_i64().map(|i| vec![i]).ok_or_else(|| format!("{x}")),
        }
    };
    match space {
        Space::Discrete { .. } => match a {
            Value::Array(_) => Err(format!(
                "{a} (a Discrete action is one integer, not a list)"
            )),
            _ => Ok((ints(a)?, Vec::new())),
        },
        Space::MultiDiscrete { .. } => Ok((ints(a)?, Vec::new())),
        _ => {
            let floats = match a {
                Value::Array(xs) => xs
                    .iter()
                    .map(|x| x.as_f64().map(|f| f as f32).ok_or_else(|| format!("{x}")))
                    .collect::<Result<Vec<_>, _>>()?,
                x => vec![x.as_f64().ok_or_else(|| format!("{x}"))? as f32],
            };
            Ok((Vec::new(), floats))
        }
    }
}

/// Decodes a recorded observation into the flat f32 encoding.
fn decode_obs(v: &Value, encoding: &str, dim: usize) -> Result<Vec<f32>, String> {
    let num = |x: &Value| -> Result<f32, String> {
        match x {
            Value::Bool(b) => Ok(*b as u8 as f32),
            Value::Number(n) => n.as_f64().map(|f| f as f32).ok_or_else(|| format!("{n}")),
            Value::String(s) if s == "inf" => Ok(f32::INFINITY),
            Value::String(s) if s == "-inf" => Ok(f32::NEG_INFINITY),
            Value::String(s) if s == "nan" => Ok(f32::NAN),
            other => Err(format!("{other}")),
        }
    };
    fn flatten(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(xs) => xs.iter().for_each(|x| flatten(x, out)),
            x => out.push(x.clone()),
        }
    }
    match encoding {
        "bool_sparse_flat_hwc" => {
            let mut flat = vec![0.0; dim];
            for i in v.as_array().ok_or("expected a list of indices")? {
                let i = i.as_u64().ok_or_else(|| format!("bad index {i}"))? as usize;
                *flat
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} outside {dim} cells"))? = 1.0;
            }
            Ok(flat)
        }
        _ => {
            let mut items = Vec::new();
            flatten(v, &mut items);
            items.iter().map(num).collect()
        }
    }
}

fn fmt_f64(x: f64) -> String {
    format!("{x:?}")
}

fn fmt_opt(x: Option<bool>) -> String {
    x.map_or("nothing".into(), |b| b.to_string())
}

fn fmt_f32s(xs: &[f32]) -> String {
    format!(
        "[{}]",
        xs.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
