//! Python environments as engram environments, so that every algorithm trains on them.
//!
//! `register_python_env(id, factory, ...)` registers `id` in engram's registry; making it calls
//! `factory()` (with the GIL), which returns an adapter written in Python
//! (`engram._PythonEnv`) around a Gymnasium env: `reset(seed) -> flat float32 observation`
//! and `step(flat float32 action) -> (flat observation, reward, terminated, truncated)`. The
//! flattening stays in Python, beside the other Gymnasium conversions. Each worker, lockstep
//! environment and evaluator makes its own instance; they step under the GIL, one at a time.

use engram_env::{Action, Env, EnvError, EnvSpec, Options, Space, Step};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The factories of the registered ids (the registry's entry points are plain functions).
fn factories() -> &'static Mutex<HashMap<String, Py<PyAny>>> {
    static FACTORIES: OnceLock<Mutex<HashMap<String, Py<PyAny>>>> = OnceLock::new();
    FACTORIES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn python_error(e: PyErr) -> EnvError {
    EnvError::Other(format!("the Python environment raised {e}"))
}

/// A space from the dict the Python side describes it with (the format of `space_dict`).
pub fn space_from(d: &Bound<'_, PyAny>) -> PyResult<Space> {
    let kind: String = d.get_item("kind")?.extract()?;
    Ok(match kind.as_str() {
        "discrete" => Space::Discrete {
            n: d.get_item("n")?.extract()?,
            start: d.get_item("start")?.extract()?,
        },
        "box" => Space::Box {
            low: d.get_item("low")?.extract()?,
            high: d.get_item("high")?.extract()?,
            shape: d.get_item("shape")?.extract()?,
        },
        "multi_discrete" => Space::MultiDiscrete {
            nvec: d.get_item("nvec")?.extract()?,
        },
        "tuple" => {
            let parts = d.get_item("spaces")?;
            let parts = parts.cast::<PyList>()?;
            Space::Tuple(
                parts
                    .iter()
                    .map(|p| space_from(&p))
                    .collect::<PyResult<Vec<_>>>()?,
            )
        }
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "engram cannot train on a `{other}` space"
            )))
        }
    })
}

struct PythonEnv {
    adapter: Py<PyAny>,
    observation_space: Space,
    action_space: Space,
}

impl PythonEnv {
    fn copy_obs(flat: &Bound<'_, PyAny>, obs: &mut [f32]) -> PyResult<()> {
        let flat: PyReadonlyArray1<'_, f32> = flat.extract()?;
        let flat = flat.as_slice()?;
        if flat.len() != obs.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the observation has {} numbers, its space {} floats",
                flat.len(),
                obs.len()
            )));
        }
        obs.copy_from_slice(flat);
        Ok(())
    }
}

impl Env for PythonEnv {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        Python::attach(|py| {
            let flat = self.adapter.bind(py).call_method1("reset", (seed,))?;
            Self::copy_obs(&flat, obs)
        })
        .map_err(python_error)
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let flat: Vec<f32> = match action {
            Action::Discrete(a) => vec![a as f32],
            Action::MultiDiscrete(a) => a.iter().map(|&v| v as f32).collect(),
            Action::Continuous(a) => a.to_vec(),
        };
        Python::attach(|py| {
            let action = PyArray1::from_vec(py, flat);
            let result = self.adapter.bind(py).call_method1("step", (action,))?;
            let (flat, reward, terminated, truncated): (Bound<'_, PyAny>, f64, bool, bool) =
                result.extract()?;
            Self::copy_obs(&flat, obs)?;
            Ok(Step {
                reward,
                terminated,
                truncated,
            })
        })
        .map_err(python_error)
    }
}

/// The entry point of every id registered from Python: the id names its factory.
fn make_python_env(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let factory = factories()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(options.env_id())
        .map(|f| Python::attach(|py| f.clone_ref(py)));
    let Some(factory) = factory else {
        return Err(EnvError::Other(format!(
            "`{}` was registered from Python in another process: register it again (load the \
             model with env=...)",
            options.env_id()
        )));
    };
    Python::attach(|py| -> PyResult<Box<dyn Env>> {
        let adapter = factory.bind(py).call0()?;
        let spaces = adapter.call_method0("engram_spaces")?;
        let (obs, act): (Bound<'_, PyAny>, Bound<'_, PyAny>) = spaces.extract()?;
        Ok(Box::new(PythonEnv {
            adapter: adapter.unbind(),
            observation_space: space_from(&obs)?,
            action_space: space_from(&act)?,
        }))
    })
    .map_err(python_error)
}

/// Registers `id` (made by calling `factory()`, which returns an `engram._PythonEnv`), with
/// an optional reward threshold; registering an id again replaces its factory.
#[pyfunction]
#[pyo3(signature = (id, factory, reward_threshold=None, description=None))]
pub fn register_python_env(
    id: &str,
    factory: Py<PyAny>,
    reward_threshold: Option<f64>,
    description: Option<String>,
) -> PyResult<()> {
    let mut map = factories().lock().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(id) {
        map.insert(id.to_string(), factory);
        return Ok(());
    }
    let mut spec = EnvSpec::new(id, make_python_env);
    spec.reward_threshold = reward_threshold;
    spec.description = description.unwrap_or_else(|| "a Python (Gymnasium) environment".into());
    // Refuses the ids of built-in environments, with the registry's message.
    engram_env::register(spec)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    map.insert(id.to_string(), factory);
    Ok(())
}
