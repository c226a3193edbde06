//! `engram._engram`: the Rust side of the Python package. It binds the library and adds no
//! behaviour of its own: environments (`Env`, `VecEnv`) stepping in flat `f32` encodings, the
//! algorithm registry, training and resuming runs, and loaded policies (`Policy`). The Python
//! side (`python/engram/`) turns these into Gymnasium environments and SB3-style agents.
//!
//! Errors become Python exceptions carrying the CLI's messages: `ValueError` for bad input
//! (ids, options, hyper-parameters, actions), `RuntimeError` for failures of a run, and
//! `KeyboardInterrupt` after Ctrl-C has stopped a run with its checkpoint saved.

// A panic is a bug: code outside tests returns errors instead (see RELIABILITY.md).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use engram::agent::Act;
use engram::algos::{RunConfig, REGISTRY};
use engram::runtime::evaluator::{NORMALIZE_CLIP, NORMALIZE_EPS};
use engram_env::vector::{AutoresetMode, SyncVectorEnv, VectorEnv};
use engram_env::{Action, Env, InfoValue, Options, Render, RenderMode, Space};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod pyenv;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Conversions

/// A Python option value (`make(id, is_slippery=False)`) as the registry's JSON value.
fn json_of(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if value.is_none() {
        return Ok(serde_json::Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(serde_json::Value::Bool(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(serde_json::Value::from(value.extract::<i64>()?));
    }
    if value.is_instance_of::<PyFloat>() {
        let v: f64 = value.extract()?;
        // JSON has no NaN: serde_json would turn it into null, i.e. "use the default".
        if !v.is_finite() {
            return Err(PyValueError::new_err(format!(
                "option value {v} is not a finite number"
            )));
        }
        return Ok(serde_json::Value::from(v));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(serde_json::Value::String(value.extract()?));
    }
    if let Ok(items) = value.try_iter() {
        let items: PyResult<Vec<_>> = items.map(|v| json_of(&v?)).collect();
        return Ok(serde_json::Value::Array(items?));
    }
    Err(PyValueError::new_err(format!(
        "option value {value} is not a bool, number, string or list"
    )))
}

fn options_of(options: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    let mut out = Options::new();
    if let Some(options) = options {
        for (key, value) in options.iter() {
            out.set(&key.extract::<String>()?, json_of(&value)?);
        }
    }
    Ok(out)
}

/// A space as a plain dict, which the Python side turns into a `gymnasium.spaces` object.
fn space_dict<'py>(py: Python<'py>, space: &Space) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match space {
        Space::Discrete { n, start } => {
            d.set_item("kind", "discrete")?;
            d.set_item("n", n)?;
            d.set_item("start", start)?;
        }
        Space::Box { low, high, shape } => {
            d.set_item("kind", "box")?;
            d.set_item("low", low.clone())?;
            d.set_item("high", high.clone())?;
            d.set_item("shape", shape.clone())?;
        }
        Space::MultiDiscrete { nvec } => {
            d.set_item("kind", "multi_discrete")?;
            d.set_item("nvec", nvec.clone())?;
        }
        Space::Tuple(parts) => {
            d.set_item("kind", "tuple")?;
            let parts: PyResult<Vec<_>> = parts.iter().map(|p| space_dict(py, p)).collect();
            d.set_item("spaces", parts?)?;
        }
    }
    Ok(d)
}

/// A flat action (`action_dim` floats, as the Python side encodes it) as an [`Action`].
fn action_of<'a>(space: &Space, flat: &'a [f32], ints: &'a mut Vec<i64>) -> PyResult<Action<'a>> {
    let integral = |v: f32| -> PyResult<i64> {
        let i = v as i64;
        if i as f32 == v {
            Ok(i)
        } else {
            Err(PyValueError::new_err(format!(
                "action {v} is not an integer of the action space {space}"
            )))
        }
    };
    if flat.len() != space.flat_dim() {
        return Err(PyValueError::new_err(format!(
            "the action has {} numbers, the action space {space} takes {}",
            flat.len(),
            space.flat_dim()
        )));
    }
    match space {
        Space::Discrete { .. } => Ok(Action::Discrete(integral(flat[0])?)),
        Space::MultiDiscrete { .. } => {
            ints.clear();
            for &v in flat {
                ints.push(integral(v)?);
            }
            Ok(Action::MultiDiscrete(ints))
        }
        Space::Box { .. } => Ok(Action::Continuous(flat)),
        Space::Tuple(_) => Err(PyValueError::new_err(format!(
            "Tuple action spaces ({space}) are not supported"
        ))),
    }
}

fn info_dict<'py>(py: Python<'py>, env: &dyn Env) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (key, value) in env.info() {
        match value {
            InfoValue::Float(v) => d.set_item(key, v)?,
            InfoValue::Int(v) => d.set_item(key, v)?,
            InfoValue::Bool(v) => d.set_item(key, v)?,
            InfoValue::Ints(v) => d.set_item(key, PyArray1::from_vec(py, v))?,
            InfoValue::Floats(v) => d.set_item(key, PyArray1::from_vec(py, v))?,
        }
    }
    if let Some(mask) = env.action_mask() {
        let mask: Vec<i8> = mask.iter().map(|&m| i8::from(m)).collect();
        d.set_item("action_mask", PyArray1::from_vec(py, mask))?;
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Environments

/// A 2-D array's numbers in row-major order: borrowed when the array is C-contiguous, else
/// copied in logical order (a Fortran-ordered or strided array read as a slice would come out
/// transposed or refused).
fn row_major<'a>(a: &'a PyReadonlyArray2<'_, f32>) -> PyResult<std::borrow::Cow<'a, [f32]>> {
    if a.is_c_contiguous() {
        Ok(std::borrow::Cow::Borrowed(a.as_slice()?))
    } else {
        Ok(std::borrow::Cow::Owned(
            a.as_array().iter().copied().collect(),
        ))
    }
}

/// Locks an environment's mutex. Waiting happens without the GIL: a thread holding the lock
/// may need the GIL to finish (to build its results), so waiting with it would deadlock.
fn lock_without_gil<'a, T: Send>(
    py: Python<'_>,
    mutex: &'a Mutex<T>,
) -> std::sync::MutexGuard<'a, T> {
    loop {
        match mutex.try_lock() {
            Ok(guard) => return guard,
            Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
            // A guard cannot cross the GIL boundary: wait for the holder to finish without
            // the GIL, then try again with it.
            Err(std::sync::TryLockError::WouldBlock) => py.detach(|| {
                drop(mutex.lock());
            }),
        }
    }
}

/// One built-in environment, stepped with flat encodings.
#[pyclass(module = "engram._engram")]
struct RawEnv {
    // A Python object may be reached from several threads: the lock makes it `Sync` (it is
    // never contended in a plain training loop, and costs tens of nanoseconds).
    inner: Mutex<EnvState>,
    /// The environment's action space (fixed), readable without the lock.
    action_space: Space,
}

struct EnvState {
    env: Box<dyn Env>,
    obs: Vec<f32>,
    ints: Vec<i64>,
}

/// `(observation, reward, terminated, truncated, info)` of [`RawEnv::step_native`].
type NativeStep<'py> = (Bound<'py, PyAny>, f64, bool, bool, Bound<'py, PyDict>);

/// A flat observation as Gymnasium's environments return it: an `int` for Discrete, a float32
/// array of the space's shape for Box, an int64 array for MultiDiscrete, a tuple of those.
fn native_observation<'py>(
    py: Python<'py>,
    space: &Space,
    flat: &[f32],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match space {
        Space::Discrete { .. } => (flat[0] as i64).into_pyobject(py)?.into_any(),
        Space::Box { shape, .. } => {
            let array = PyArray1::from_slice(py, flat);
            if shape.len() == 1 {
                array.into_any()
            } else {
                array.reshape(shape.as_slice())?.into_any()
            }
        }
        Space::MultiDiscrete { .. } => {
            let ints: Vec<i64> = flat.iter().map(|&v| v as i64).collect();
            PyArray1::from_vec(py, ints).into_any()
        }
        Space::Tuple(parts) => {
            let mut items = Vec::with_capacity(parts.len());
            let mut at = 0;
            for part in parts {
                let n = part.flat_dim();
                items.push(native_observation(py, part, &flat[at..at + n])?);
                at += n;
            }
            pyo3::types::PyTuple::new(py, items)?.into_any()
        }
    })
}

impl RawEnv {
    fn lock(&self, py: Python<'_>) -> std::sync::MutexGuard<'_, EnvState> {
        lock_without_gil(py, &self.inner)
    }

    /// One step with a flat action; the observation as Gymnasium's environments return it.
    fn step_with<'py>(&self, py: Python<'py>, flat: &[f32]) -> PyResult<NativeStep<'py>> {
        let mut guard = self.lock(py);
        let EnvState { env, obs, ints } = &mut *guard;
        let action = action_of(&self.action_space, flat, ints)?;
        let step = env.step(action, obs).map_err(value_error)?;
        Ok((
            native_observation(py, env.observation_space(), obs)?,
            step.reward,
            step.terminated,
            step.truncated,
            info_dict(py, &**env)?,
        ))
    }
}

#[pymethods]
impl RawEnv {
    #[new]
    #[pyo3(signature = (id, options=None))]
    fn new(id: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let env = engram_env::make(id, &options_of(options)?).map_err(value_error)?;
        let obs = vec![0.0; env.observation_space().flat_dim()];
        let action_space = env.action_space().clone();
        Ok(RawEnv {
            inner: Mutex::new(EnvState {
                env,
                obs,
                ints: Vec::new(),
            }),
            action_space,
        })
    }

    fn observation_space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, self.lock(py).env.observation_space())
    }

    fn action_space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, self.lock(py).env.action_space())
    }

    /// `(observation, info)` with the observation as Gymnasium's environments return it.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &self,
        py: Python<'py>,
        seed: Option<u64>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let mut guard = self.lock(py);
        let state = &mut *guard;
        state.env.reset(seed, &mut state.obs).map_err(value_error)?;
        Ok((
            native_observation(py, state.env.observation_space(), &state.obs)?,
            info_dict(py, &*state.env)?,
        ))
    }

    /// `EngramEnv.step` without conversions in Python: the action as Python code gives it (an
    /// int for Discrete, a float32/float64 array for Box, an integer array for MultiDiscrete),
    /// the observation as Gymnasium's environments return it (an int, a shaped array).
    /// `None` for any other action (the caller converts it): nothing was stepped then.
    fn step_native<'py>(
        &self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Option<NativeStep<'py>>> {
        // The action is read before the lock is taken: reading it may run Python code
        // (`__index__`), which may step this environment itself.
        let space = &self.action_space;
        let mut flat: Vec<f32> = Vec::with_capacity(space.flat_dim());
        match space {
            Space::Discrete { .. } => match action.extract::<i64>() {
                Ok(i) => flat.push(i as f32),
                Err(_) => return Ok(None),
            },
            Space::Box { .. } => {
                if let Ok(a) = action.extract::<PyReadonlyArrayDyn<'py, f32>>() {
                    flat.extend(a.as_array().iter());
                } else if let Ok(a) = action.extract::<PyReadonlyArrayDyn<'py, f64>>() {
                    flat.extend(a.as_array().iter().map(|&v| v as f32));
                } else {
                    return Ok(None);
                }
            }
            Space::MultiDiscrete { .. } => match action.extract::<PyReadonlyArrayDyn<'py, i64>>() {
                Ok(a) => flat.extend(a.as_array().iter().map(|&v| v as f32)),
                Err(_) => return Ok(None),
            },
            Space::Tuple(_) => return Ok(None),
        }
        if flat.len() != space.flat_dim() {
            return Ok(None);
        }
        self.step_with(py, &flat).map(Some)
    }

    /// [`RawEnv::step_native`] for a flat action (the general path, after Python's
    /// conversion).
    fn step<'py>(
        &self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<NativeStep<'py>> {
        self.step_with(py, action.as_slice()?)
    }

    /// `"ansi"`: the text frame; `"rgb_array"`: an `H x W x 3` uint8 array.
    fn render<'py>(&self, py: Python<'py>, mode: &str) -> PyResult<Bound<'py, PyAny>> {
        let mode = match mode {
            "ansi" => RenderMode::Text,
            "rgb_array" => RenderMode::Rgb,
            other => {
                return Err(PyValueError::new_err(format!(
                    "render mode `{other}`: engram renders \"ansi\" (toy text) and \"rgb_array\" (classic control)"
                )))
            }
        };
        let rendered = self.lock(py).env.render(mode).map_err(value_error)?;
        match rendered {
            Render::Text(text) => Ok(PyString::new(py, &text).into_any()),
            Render::Rgb {
                width,
                height,
                pixels,
            } => {
                let flat = PyArray1::from_vec(py, pixels);
                Ok(flat.reshape([height, width, 3])?.into_any())
            }
        }
    }
}

/// Environments of one id stepped in lockstep, with Gymnasium's next-step autoreset.
#[pyclass(module = "engram._engram")]
struct RawVecEnv {
    venv: Mutex<SyncVectorEnv<Box<dyn Env>>>,
}

impl RawVecEnv {
    fn lock(&self, py: Python<'_>) -> std::sync::MutexGuard<'_, SyncVectorEnv<Box<dyn Env>>> {
        lock_without_gil(py, &self.venv)
    }
}

#[pymethods]
impl RawVecEnv {
    /// `autoreset`: `next_step` (Gymnasium's vector envs) or `same_step` (Stable-Baselines3's
    /// VecEnv: the final observation is kept in `final_observations`).
    #[new]
    #[pyo3(signature = (id, num_envs, options=None, autoreset="next_step"))]
    fn new(
        id: &str,
        num_envs: usize,
        options: Option<&Bound<'_, PyDict>>,
        autoreset: &str,
    ) -> PyResult<Self> {
        if num_envs == 0 || num_envs > 65536 {
            return Err(PyValueError::new_err(format!(
                "num_envs = {num_envs}: give 1 to 65536 environments"
            )));
        }
        let mode = match autoreset {
            "next_step" => AutoresetMode::NextStep,
            "same_step" => AutoresetMode::SameStep,
            other => {
                return Err(PyValueError::new_err(format!(
                    "autoreset = {other:?}: choose next_step or same_step"
                )))
            }
        };
        let venv =
            SyncVectorEnv::make(id, &options_of(options)?, num_envs, mode).map_err(value_error)?;
        Ok(RawVecEnv {
            venv: Mutex::new(venv),
        })
    }

    fn num_envs(&self, py: Python<'_>) -> usize {
        self.lock(py).num_envs()
    }

    fn observation_space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, self.lock(py).single_observation_space())
    }

    fn action_space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, self.lock(py).single_action_space())
    }

    /// `[num_envs, obs_dim]` observations.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &self,
        py: Python<'py>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let mut venv = self.lock(py);
        venv.reset(seed).map_err(value_error)?;
        observations(py, &venv)
    }

    /// `(observations, rewards, terminated, truncated)` for `[num_envs, action_dim]` actions.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
    )> {
        let flat = row_major(&actions)?;
        let mut venv = self.lock(py);
        venv.step(&flat).map_err(value_error)?;
        Ok((
            observations(py, &venv)?,
            PyArray1::from_slice(py, venv.rewards()),
            PyArray1::from_slice(py, venv.terminated()),
            PyArray1::from_slice(py, venv.truncated()),
        ))
    }

    /// Same-step autoreset: `(final observations [num_envs, obs_dim], which rows have one)`
    /// of the last step.
    #[allow(clippy::type_complexity)]
    fn final_observations<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<bool>>)> {
        let venv = self.lock(py);
        let flat = PyArray1::from_slice(py, venv.final_observations());
        Ok((
            flat.reshape([venv.num_envs(), venv.obs_dim()])?,
            PyArray1::from_slice(py, venv.has_final_observation()),
        ))
    }
}

fn observations<'py>(
    py: Python<'py>,
    venv: &SyncVectorEnv<Box<dyn Env>>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let flat = PyArray1::from_slice(py, venv.observations());
    flat.reshape([venv.num_envs(), venv.obs_dim()])
}

// ---------------------------------------------------------------------------------------------
// Algorithms and runs

/// `[(name, description)]` of the registry.
#[pyfunction]
fn algorithms() -> Vec<(&'static str, &'static str)> {
    REGISTRY.iter().map(|s| (s.name, s.description)).collect()
}

/// `{key: (default as TOML, documentation)}` of an algorithm, as tuned for `env`.
#[pyfunction]
fn options(algo: &str, env: &str) -> PyResult<Vec<(String, String, String)>> {
    let config = RunConfig::tuned(algo, env).map_err(value_error)?;
    let table = config.to_table();
    Ok(config
        .keys()
        .into_iter()
        .map(|k| {
            (
                k.to_string(),
                table.get(k).map(|v| v.to_string()).unwrap_or_default(),
                engram::config::keys::doc(k).unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// A config for `algo` on `env` with `settings` (`key=value` TOML assignments) applied and
/// validated, as `engram train --set` would.
fn config_of(algo: &str, env: &str, settings: &[String]) -> PyResult<RunConfig> {
    let mut config = RunConfig::tuned(algo, env).map_err(value_error)?;
    for s in settings {
        config.set(s).map_err(value_error)?;
    }
    config.validate().map_err(value_error)?;
    Ok(config)
}

/// Checks a configuration without training (the constructor's early error).
#[pyfunction]
fn check_config(algo: &str, env: &str, settings: Vec<String>) -> PyResult<String> {
    let config = config_of(algo, env, &settings)?;
    let probe = config.common.make_env().map_err(value_error)?;
    config.algo.check(&config, &*probe).map_err(value_error)?;
    config.to_toml().map_err(value_error)
}

/// Runs `work` on a thread of its own with the GIL released, polling Python's signals: Ctrl-C
/// sets engram's stop flag, the run saves its checkpoint and stops, and KeyboardInterrupt
/// is raised once it has.
fn run_interruptibly<T: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, engram::error::TrainError> + Send + 'static,
) -> PyResult<T> {
    let stop = engram::runtime::progress::stop_flag();
    stop.store(false, Ordering::SeqCst);
    let handle = std::thread::spawn(work);
    let mut interrupted = None;
    while !handle.is_finished() {
        py.detach(|| std::thread::sleep(Duration::from_millis(20)));
        if interrupted.is_none() {
            if let Err(e) = py.check_signals() {
                stop.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
    }
    let result = handle
        .join()
        .map_err(|_| PyRuntimeError::new_err("engram's training thread panicked (a bug)"))?;
    stop.store(false, Ordering::SeqCst);
    if let Some(e) = interrupted {
        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
            // The run saved its checkpoint and stopped.
            result.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        }
        return Err(e);
    }
    result.map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

fn summary_json(summary: &engram::runtime::Summary) -> PyResult<String> {
    serde_json::to_string(summary).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Trains a new run in `out`; returns `summary.json`'s text.
#[pyfunction]
#[pyo3(signature = (algo, env, settings, out, quiet=true))]
fn train(
    py: Python<'_>,
    algo: &str,
    env: &str,
    settings: Vec<String>,
    out: PathBuf,
    quiet: bool,
) -> PyResult<String> {
    let config = config_of(algo, env, &settings)?;
    let summary = run_interruptibly(py, move || engram::train::train(config, Some(&out), quiet))?;
    summary_json(&summary)
}

/// Continues the run in `dir` (`overrides`: `key=value`, e.g. a larger `total_steps`).
#[pyfunction]
#[pyo3(signature = (dir, overrides, quiet=true))]
fn resume(py: Python<'_>, dir: PathBuf, overrides: Vec<String>, quiet: bool) -> PyResult<String> {
    let summary = run_interruptibly(py, move || engram::train::resume(&dir, &overrides, quiet))?;
    summary_json(&summary)
}

/// A trained agent loaded from a checkpoint, acting on batches of flat observations with one
/// recurrent state per row.
#[pyclass(module = "engram._engram", frozen)]
struct Policy {
    loaded: engram::play::Loaded,
}

/// Actions and next states of [`Policy::play_rows`], flat.
struct Rows {
    n: usize,
    action_dim: usize,
    state_dim: usize,
    actions: Vec<f32>,
    next_states: Vec<f32>,
}

impl Rows {
    #[allow(clippy::type_complexity)]
    fn arrays<'py>(
        self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<f32>>)> {
        Ok((
            PyArray1::from_vec(py, self.actions).reshape([self.n, self.action_dim])?,
            PyArray1::from_vec(py, self.next_states).reshape([self.n, self.state_dim])?,
        ))
    }
}

impl Policy {
    /// One step for each row of `obs` from its state (a zero state where `episode_start` is
    /// set), normalising observations as in training; `each(row, player)` after each act.
    fn play_rows(
        &self,
        obs: &PyReadonlyArray2<'_, f32>,
        states: &PyReadonlyArray2<'_, f32>,
        episode_start: &PyReadonlyArray1<'_, bool>,
        mut rng: Option<&mut ChaCha8Rng>,
        mut each: impl FnMut(usize, &dyn engram::agent::Player),
    ) -> PyResult<Rows> {
        let agent: &Arc<dyn Act> = &self.loaded.agent;
        let (obs_dim, action_dim) = (agent.obs_dim(), agent.action_kind().action_dim());
        let shape = obs.shape();
        if shape[1] != obs_dim {
            return Err(PyValueError::new_err(format!(
                "observations have {} numbers each, the policy takes {obs_dim}",
                shape[1]
            )));
        }
        let n = shape[0];
        let mut player = agent.player(&self.loaded.params);
        let state_dim = player.recurrent_state().len();
        let states = row_major(states)?;
        let starts: Vec<bool> = episode_start.as_array().iter().copied().collect();
        if states.len() != n * state_dim || starts.len() != n {
            return Err(PyValueError::new_err(format!(
                "{n} observations need {n} episode starts and {n} x {state_dim} state floats"
            )));
        }
        let obs = row_major(obs)?;
        let mut actions = vec![0.0f32; n * action_dim];
        let mut next_states = vec![0.0f32; n * state_dim];
        let mut row = vec![0.0f32; obs_dim];
        for i in 0..n {
            row.copy_from_slice(&obs[i * obs_dim..(i + 1) * obs_dim]);
            if let Some(stats) = &self.loaded.obs_stats {
                stats.normalize_clipped(&mut row, NORMALIZE_EPS, NORMALIZE_CLIP);
            }
            player.reset();
            if !starts[i] {
                player.set_recurrent_state(&states[i * state_dim..(i + 1) * state_dim]);
            }
            player.act(
                &row,
                rng.as_deref_mut(),
                &mut actions[i * action_dim..(i + 1) * action_dim],
            );
            next_states[i * state_dim..(i + 1) * state_dim]
                .copy_from_slice(player.recurrent_state());
            each(i, &*player);
        }
        Ok(Rows {
            n,
            action_dim,
            state_dim,
            actions,
            next_states,
        })
    }
}

/// `(actions, next_states, outputs)` of [`Policy::forward`].
type Forward<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyDict>,
);

#[pymethods]
impl Policy {
    /// `path`: a run directory (its best checkpoint, or its latest with `latest`) or a file.
    #[new]
    #[pyo3(signature = (path, latest=true))]
    fn new(path: PathBuf, latest: bool) -> PyResult<Self> {
        let loaded = engram::play::load(&path, latest).map_err(value_error)?;
        Ok(Policy { loaded })
    }

    fn config_toml(&self) -> PyResult<String> {
        self.loaded.config.to_toml().map_err(value_error)
    }

    fn obs_dim(&self) -> usize {
        self.loaded.agent.obs_dim()
    }

    fn action_dim(&self) -> usize {
        self.loaded.agent.action_kind().action_dim()
    }

    /// Floats of one row's recurrent state (0 without a recurrent core).
    fn state_dim(&self) -> usize {
        self.loaded
            .agent
            .player(&self.loaded.params)
            .recurrent_state()
            .len()
    }

    /// `(actions [n, action_dim], states [n, state_dim])` for observations `[n, obs_dim]`;
    /// rows whose `episode_start` is set start from a zero state.
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (obs, states, episode_start, deterministic, seed=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArray2<'py, f32>,
        states: PyReadonlyArray2<'py, f32>,
        episode_start: PyReadonlyArray1<'py, bool>,
        deterministic: bool,
        seed: Option<u64>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<f32>>)> {
        let mut rng = (!deterministic).then(|| ChaCha8Rng::seed_from_u64(seed.unwrap_or(0)));
        let rows = self.play_rows(&obs, &states, &episode_start, rng.as_mut(), |_, _| {})?;
        rows.arrays(py)
    }

    /// The greedy forward pass of a batch as the ONNX export computes it: `(actions,
    /// next_states, outputs)`, `outputs` a dict of the network's named outputs (`logits` or
    /// `mean`, `value`, `q_values`, ...), each `[n, width]` (`log_std`: `[1, action_dim]`).
    fn forward<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArray2<'py, f32>,
        states: PyReadonlyArray2<'py, f32>,
        episode_start: PyReadonlyArray1<'py, bool>,
    ) -> PyResult<Forward<'py>> {
        let mut outputs: Vec<(&'static str, usize, Vec<f32>)> = Vec::new();
        let rows = self.play_rows(&obs, &states, &episode_start, None, |i, player| {
            for (k, (name, values)) in player.outputs().into_iter().enumerate() {
                if i == 0 {
                    outputs.push((name, values.len(), Vec::new()));
                }
                // `log_std` is a parameter, the same for every row: kept once.
                if name != "log_std" || i == 0 {
                    outputs[k].2.extend_from_slice(&values);
                }
            }
        })?;
        let dict = PyDict::new(py);
        for (name, width, values) in outputs {
            let height = values.len() / width.max(1);
            dict.set_item(
                name,
                PyArray1::from_vec(py, values).reshape([height, width])?,
            )?;
        }
        let (actions, next_states) = rows.arrays(py)?;
        Ok((actions, next_states, dict))
    }

    /// Plays `episodes` episodes as `engram eval` does; returns `(returns, lengths)`. Played
    /// ten episodes at a time with the GIL released, checking for Ctrl-C in between.
    #[pyo3(signature = (episodes, seed, deterministic=true))]
    fn evaluate(
        &self,
        py: Python<'_>,
        episodes: usize,
        seed: u64,
        deterministic: bool,
    ) -> PyResult<(Vec<f64>, Vec<u64>)> {
        let loaded = &self.loaded;
        let mut env = loaded.make_env().map_err(value_error)?;
        let (mut returns, mut lengths) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < episodes {
            let end = episodes.min(start + 10);
            let sample = (!deterministic).then_some(seed ^ start as u64);
            let env = &mut *env;
            let part = py
                .detach(|| loaded.evaluate_range(env, start..end, seed, sample, |_, _, _| {}))
                .map_err(value_error)?;
            returns.extend(part.returns);
            lengths.extend(part.lengths);
            py.check_signals()?;
            start = end;
        }
        Ok((returns, lengths))
    }
}

/// Writes the policy of a run directory (its best checkpoint, or its latest with `latest`) or
/// checkpoint file as an ONNX model; returns `(inputs, outputs)` names.
#[pyfunction]
#[pyo3(signature = (path, out, latest=true))]
fn export_onnx(
    py: Python<'_>,
    path: PathBuf,
    out: PathBuf,
    latest: bool,
) -> PyResult<(Vec<String>, Vec<String>)> {
    let done = py
        .detach(|| engram::export::export_onnx(&path, latest, &out))
        .map_err(value_error)?;
    Ok((done.inputs, done.outputs))
}

// ---------------------------------------------------------------------------------------------
// A3C across machines (`engram.distributed`): the learner and the worker halves of A3C's
// update, with parameters and gradients as flat `float32` arrays.

fn train_error(e: engram::error::TrainError) -> PyErr {
    use engram::error::TrainError;
    match e {
        TrainError::Config(_) | TrainError::Usage(_) => value_error(e),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The learner of a distributed run (A3C, PPO or A2C): owns the run directory, the
/// parameters, the optimizer statistics, the metrics and the checkpoints, exactly as a local
/// run. A3C's applies gradients (`apply_gradients`), PPO's and A2C's learn from rollouts
/// (`learn`).
#[pyclass(module = "engram._engram", frozen)]
struct Learner {
    inner: Mutex<Option<RemoteLearner>>,
}

enum RemoteLearner {
    A3c(Box<engram::algos::a3c::RemoteLearner>),
    Rollouts(Box<engram::algos::remote::RolloutLearner>),
}

impl RemoteLearner {
    fn run(&self) -> &engram::runtime::LearnerRun<RunConfig> {
        match self {
            RemoteLearner::A3c(l) => l.run(),
            RemoteLearner::Rollouts(l) => l.run(),
        }
    }
}

impl Learner {
    fn of(opened: engram::train::OpenRun) -> PyResult<Self> {
        let learner = if opened.config.common.algo == engram::algos::a3c::NAME {
            engram::algos::a3c::RemoteLearner::new(opened.session, opened.config)
                .map(|l| RemoteLearner::A3c(Box::new(l)))
        } else {
            engram::algos::remote::RolloutLearner::new(opened.session, opened.config)
                .map(|l| RemoteLearner::Rollouts(Box::new(l)))
        };
        Ok(Learner {
            inner: Mutex::new(Some(learner.map_err(train_error)?)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut RemoteLearner) -> PyResult<T>) -> PyResult<T> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(learner) => f(learner),
            None => Err(PyRuntimeError::new_err("this learner's run has finished")),
        }
    }
}

#[pymethods]
impl Learner {
    /// A new run of `algo` (a3c, ppo or a2c) on `env` in `out` (`settings`: `key=value`, as
    /// `engram train --set`).
    #[staticmethod]
    #[pyo3(signature = (algo, env, settings, out, quiet=true))]
    fn train(
        algo: &str,
        env: &str,
        settings: Vec<String>,
        out: PathBuf,
        quiet: bool,
    ) -> PyResult<Self> {
        let config = config_of(algo, env, &settings)?;
        let opened = engram::train::open_new(config, Some(&out), quiet.into(), |_| {})
            .map_err(train_error)?;
        Self::of(opened)
    }

    /// Checks a new distributed run's settings for `num_workers` workers without starting it.
    #[staticmethod]
    fn check(algo: &str, env: &str, settings: Vec<String>, num_workers: usize) -> PyResult<()> {
        let config = config_of(algo, env, &settings)?;
        let probe = config.common.make_env().map_err(value_error)?;
        config.algo.check(&config, &*probe).map_err(value_error)?;
        if config.common.algo == engram::algos::a3c::NAME {
            engram::algos::a3c::check_remote(&config).map_err(train_error)
        } else {
            engram::algos::remote::check_remote(&config, num_workers).map_err(train_error)
        }
    }

    /// Continues the run in `dir` from its latest checkpoint.
    #[staticmethod]
    #[pyo3(signature = (dir, overrides, quiet=true))]
    fn resume(dir: PathBuf, overrides: Vec<String>, quiet: bool) -> PyResult<Self> {
        let opened =
            engram::train::open_resume(&dir, &overrides, quiet.into()).map_err(train_error)?;
        Self::of(opened)
    }

    /// The algorithm of the run in `dir` (to check a resume before connecting).
    #[staticmethod]
    fn algo_of(dir: PathBuf) -> PyResult<String> {
        let config = RunConfig::from_file(&dir.join("config.toml")).map_err(value_error)?;
        Ok(config.common.algo.clone())
    }

    /// The run's whole configuration as TOML (what the workers are built from).
    fn config_toml(&self) -> PyResult<String> {
        self.with(|l| l.run().config().to_toml().map_err(value_error))
    }

    fn run_dir(&self) -> PyResult<PathBuf> {
        self.with(|l| Ok(l.run().session().run_dir.clone()))
    }

    fn num_params(&self) -> PyResult<usize> {
        self.with(|l| Ok(l.run().num_params()))
    }

    /// Updates applied so far by this learner (the parameters' version).
    fn version(&self) -> PyResult<u64> {
        self.with(|l| Ok(l.run().version()))
    }

    fn env_steps(&self) -> PyResult<u64> {
        self.with(|l| Ok(l.run().session().monitor.env_steps()))
    }

    /// `(version, parameters)`: a copy of the parameters as one float32 array.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyArray1<f32>>)> {
        let (version, params) = self.with(|l| {
            let mut out = vec![0.0; l.run().num_params()];
            let read = match l {
                RemoteLearner::A3c(l) => l.read_params(&mut out),
                RemoteLearner::Rollouts(l) => l.read_params(&mut out),
            };
            let (version, _finite) = read.map_err(train_error)?;
            Ok((version, out))
        })?;
        Ok((version, PyArray1::from_vec(py, params)))
    }

    /// A3C: applies worker `worker`'s gradient. `stats`: (policy_loss, value_loss, entropy,
    /// loss, grad_norm), `steps` its environment steps, `episodes` its finished episodes
    /// (return, length). Returns false when refused as non-finite (the run then stops).
    fn apply_gradients(
        &self,
        py: Python<'_>,
        worker: usize,
        grads: PyReadonlyArray1<'_, f32>,
        stats: (f64, f64, f64, f64, f64),
        steps: u64,
        episodes: Vec<(f64, u64)>,
    ) -> PyResult<bool> {
        let grads = grads.as_slice()?;
        let (policy_loss, value_loss, entropy, loss, grad_norm) = stats;
        let update = engram::algos::a3c::RemoteUpdate {
            computed: engram::algos::a2c::Computed {
                stats: engram::onpolicy::pg_loss::PgStats {
                    policy_loss,
                    value_loss,
                    entropy,
                },
                loss,
                grad_norm,
                steps,
            },
            episodes,
        };
        self.with(|l| match l {
            RemoteLearner::A3c(l) => py
                .detach(|| l.apply(worker, grads, &update))
                .map_err(train_error),
            RemoteLearner::Rollouts(_) => Err(PyRuntimeError::new_err(
                "apply_gradients is A3C's learner's; a PPO or A2C learner learns from rollouts",
            )),
        })
    }

    /// PPO and A2C: one update from every worker's packed rollout (float32 arrays, in worker
    /// order) and their finished episodes (return, length). False when refused as non-finite.
    fn learn(
        &self,
        py: Python<'_>,
        rollouts: Vec<PyReadonlyArray1<'_, f32>>,
        episodes: Vec<(f64, u64)>,
    ) -> PyResult<bool> {
        let slices = rollouts
            .iter()
            .map(|r| r.as_slice())
            .collect::<Result<Vec<_>, _>>()?;
        self.with(|l| match l {
            RemoteLearner::Rollouts(l) => py
                .detach(|| l.learn(&slices, &episodes))
                .map_err(train_error),
            RemoteLearner::A3c(_) => Err(PyRuntimeError::new_err(
                "learn is PPO's and A2C's learner's; an A3C learner applies gradients",
            )),
        })
    }

    /// Whether training goes on (budget, stop request, failure).
    fn running(&self) -> PyResult<bool> {
        self.with(|l| Ok(l.run().running()))
    }

    /// Stops the run as failed with `message` (the last good checkpoint is kept).
    fn fail(&self, message: String) -> PyResult<()> {
        self.with(|l| {
            l.run().fail(message);
            Ok(())
        })
    }

    /// Ends the run: the final checkpoint and `summary.json`, whose text it returns.
    fn finish(&self, py: Python<'_>) -> PyResult<String> {
        let learner = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this learner's run has finished"))?;
        let summary = py.detach(move || {
            let run = learner.run();
            let config = run.config().clone();
            let monitor = run.session().monitor.clone();
            let run_dir = run.session().run_dir.clone();
            let stop = match learner {
                RemoteLearner::A3c(l) => (*l).finish(),
                RemoteLearner::Rollouts(l) => (*l).finish(),
            }
            .map(|(_, reason)| reason);
            engram::train::close(&config, &monitor, &run_dir, stop)
        });
        summary_json(&summary.map_err(train_error)?)
    }
}

/// A worker of a distributed A3C run: its own environment and RNG stream; computes the
/// clipped gradient of `t_max` steps on the parameters it is given.
#[pyclass(module = "engram._engram", frozen)]
struct A3cWorker {
    inner: Mutex<engram::algos::a3c::RemoteWorker>,
}

#[pymethods]
impl A3cWorker {
    /// `config_toml`: the learner's `config_toml()`; `stream`: the RNG stream (seed + stream).
    #[new]
    fn new(config_toml: &str, stream: u64) -> PyResult<Self> {
        let table: toml::Table = toml::from_str(config_toml).map_err(value_error)?;
        let config =
            RunConfig::from_table(table, "the learner's configuration").map_err(value_error)?;
        config.validate().map_err(value_error)?;
        let worker = engram::algos::a3c::RemoteWorker::new(&config, stream).map_err(train_error)?;
        Ok(A3cWorker {
            inner: Mutex::new(worker),
        })
    }

    fn num_params(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .num_params()
    }

    /// Collects `t_max` steps with `params`; returns (gradient as float32 array, stats,
    /// steps, episodes) as `Learner.apply_gradients` takes them.
    #[allow(clippy::type_complexity)]
    fn compute_gradients<'py>(
        &self,
        py: Python<'py>,
        params: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        (f64, f64, f64, f64, f64),
        u64,
        Vec<(f64, u64)>,
    )> {
        let params = params.as_slice()?;
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let worker: &mut engram::algos::a3c::RemoteWorker = &mut guard;
        let update = py.detach(|| worker.compute(params)).map_err(train_error)?;
        let grads = PyArray1::from_slice(py, worker.grads());
        let c = update.computed;
        Ok((
            grads,
            (
                c.stats.policy_loss,
                c.stats.value_loss,
                c.stats.entropy,
                c.loss,
                c.grad_norm,
            ),
            c.steps,
            update.episodes,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// PPO and A2C across machines: remote collectors ship packed rollouts (one float32 array
// each) to the learner, which runs the algorithm's own update on them.

/// A remote collector of a distributed PPO or A2C run: `n_envs / num_workers` environments,
/// RNG stream seed + `stream`.
#[pyclass(module = "engram._engram", frozen)]
struct RolloutWorker {
    inner: Mutex<engram::algos::remote::RolloutWorker>,
}

#[pymethods]
impl RolloutWorker {
    #[new]
    fn new(config_toml: &str, num_workers: usize, stream: u64) -> PyResult<Self> {
        let table: toml::Table = toml::from_str(config_toml).map_err(value_error)?;
        let config =
            RunConfig::from_table(table, "the learner's configuration").map_err(value_error)?;
        config.validate().map_err(value_error)?;
        let worker = engram::algos::remote::RolloutWorker::new(&config, num_workers, stream)
            .map_err(train_error)?;
        Ok(RolloutWorker {
            inner: Mutex::new(worker),
        })
    }

    /// Collects `t_max` steps with `params`; returns (packed rollout as float32 array,
    /// finished episodes, environment steps) as `Learner.learn` takes them.
    #[allow(clippy::type_complexity)]
    fn collect<'py>(
        &self,
        py: Python<'py>,
        params: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, Vec<(f64, u64)>, u64)> {
        let params = params.as_slice()?;
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let worker: &mut engram::algos::remote::RolloutWorker = &mut guard;
        let episodes = py.detach(|| worker.collect(params)).map_err(train_error)?;
        Ok((
            PyArray1::from_slice(py, worker.packed()),
            episodes,
            worker.steps(),
        ))
    }
}

#[pymodule]
fn _engram(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RawEnv>()?;
    m.add_class::<RawVecEnv>()?;
    m.add_class::<Policy>()?;
    m.add_class::<Learner>()?;
    m.add_class::<A3cWorker>()?;
    m.add_class::<RolloutWorker>()?;
    m.add_function(wrap_pyfunction!(algorithms, m)?)?;
    m.add_function(wrap_pyfunction!(options, m)?)?;
    m.add_function(wrap_pyfunction!(check_config, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(export_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(pyenv::register_python_env, m)?)?;
    let env_ids: Vec<String> = engram_env::registry::specs()
        .into_iter()
        .map(|s| s.id)
        .collect();
    m.add("ENV_IDS", PyList::new(m.py(), env_ids)?)?;
    Ok(())
}
