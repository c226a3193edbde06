//! The built-in environments' registrations (Gymnasium 1.x ids, time limits, reward
//! thresholds and default keyword options), and small helpers the environments share.

use crate::classic_control::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use crate::env::{Env, EnvError};
use crate::registry::{EnvSpec, Options};
use crate::toy_text::{Blackjack, CliffWalking, FrozenLake, Taxi};
use serde_json::Value;

fn spec(
    id: &str,
    max_episode_steps: Option<usize>,
    reward_threshold: Option<f64>,
    defaults: &[(&str, Value)],
    entry_point: crate::registry::EntryPoint,
    description: &str,
) -> EnvSpec {
    let mut default_options = Options::default();
    for (k, v) in defaults {
        default_options.values.insert(k.to_string(), v.clone());
    }
    EnvSpec {
        id: id.to_string(),
        max_episode_steps,
        reward_threshold,
        default_options,
        entry_point,
        description: description.to_string(),
    }
}

/// Every built-in id, registered on first use of the registry. Time limits and thresholds are
/// Gymnasium 1.4's registrations (`gymnasium/envs/__init__.py`).
pub(crate) fn builtin_specs() -> Vec<EnvSpec> {
    use serde_json::json;
    vec![
        spec("CartPole-v1", Some(500), Some(475.0), &[], CartPole::make,
            "Balance a pole on a cart (Barto, Sutton & Anderson 1983); +1 per step"),
        spec("Acrobot-v1", Some(500), Some(-100.0), &[], Acrobot::make,
            "Swing a two-link underactuated arm above a line; -1 per step"),
        spec("MountainCar-v0", Some(200), Some(-110.0), &[], MountainCar::make,
            "Drive an underpowered car up a hill (discrete push); -1 per step"),
        spec("MountainCarContinuous-v0", Some(999), Some(90.0), &[], MountainCarContinuous::make,
            "Drive an underpowered car up a hill (continuous force); +100 at the goal minus 0.1*force^2"),
        spec("Pendulum-v1", Some(200), None, &[], Pendulum::make,
            "Swing up and balance an inverted pendulum (continuous torque)"),
        spec("FrozenLake-v1", Some(100), Some(0.70), &[("map_name", json!("4x4"))], FrozenLake::make,
            "Cross a frozen lake from S to G without falling into holes (4x4, slippery by default)"),
        spec("FrozenLake8x8-v1", Some(200), Some(0.85), &[("map_name", json!("8x8"))], FrozenLake::make,
            "Cross a frozen lake from S to G without falling into holes (8x8, slippery by default)"),
        spec("CliffWalking-v1", None, None, &[], CliffWalking::make,
            "Walk along a cliff to the goal (Sutton & Barto example 6.6); -1 per step, -100 for the cliff"),
        spec("CliffWalkingSlippery-v1", None, None, &[("is_slippery", json!(true))], CliffWalking::make,
            "CliffWalking where each move may slip sideways"),
        spec("Taxi-v3", Some(200), Some(8.0), &[], Taxi::make,
            "Pick up and drop off a passenger in a 5x5 grid (Dietterich 2000); same dynamics as Taxi-v4"),
        spec("Taxi-v4", Some(200), Some(8.0), &[], Taxi::make,
            "Pick up and drop off a passenger in a 5x5 grid (Dietterich 2000)"),
        spec("Blackjack-v1", None, None, &[("sab", json!(true)), ("natural", json!(false))], Blackjack::make,
            "Beat the dealer at simplified Blackjack (Sutton & Barto example 5.1)"),
    ]
    .into_iter()
    .chain(crate::popgym::popgym_specs())
    .chain(crate::memory::memory_specs())
    .chain(crate::minatar::specs())
    .chain(crate::sutton_barto::specs())
    .collect()
}

/// Makes an unwrapped built-in environment by id, taking its options (defaults first, then
/// `options`) and failing on options it does not know. Used by the golden replay until the
/// registry's `make` takes over.
pub(crate) fn make_unwrapped(
    id: &str,
    options: &Options,
) -> Result<(Box<dyn Env>, EnvSpec), EnvError> {
    let spec = builtin_specs()
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| EnvError::UnknownId {
            id: id.to_string(),
            suggestion: String::new(),
        })?;
    let mut opts = spec.default_options.clone();
    for (k, v) in &options.values {
        opts.values.insert(k.clone(), v.clone());
    }
    let env = (spec.entry_point)(&mut opts)?;
    if let Some(k) = opts.values.keys().next() {
        return Err(EnvError::BadOption {
            id: id.to_string(),
            message: format!("unknown option `{k}` (not a keyword argument of this environment)"),
        });
    }
    Ok((env, spec))
}

// ------------------------------------------------------------------------ shared helpers

/// Where an environment is in its episode: Gymnasium's `OrderEnforcing` as a cheap check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    NotReset,
    Running,
    Done,
}

impl Phase {
    #[inline]
    pub(crate) fn check_step(self) -> Result<(), EnvError> {
        match self {
            Phase::Running => Ok(()),
            Phase::NotReset => Err(EnvError::NotReset),
            Phase::Done => Err(EnvError::NeedsReset),
        }
    }
}

/// The observation buffer as a fixed-size array, or a clear error for a wrong length.
#[inline]
pub(crate) fn obs_array<const N: usize>(obs: &mut [f32]) -> Result<&mut [f32; N], EnvError> {
    let len = obs.len();
    obs.try_into().map_err(|_| {
        EnvError::Other(format!(
            "observation buffer has {len} elements but the observation space needs {N}"
        ))
    })
}

#[cold]
pub(crate) fn invalid_action(
    action: crate::space::Action<'_>,
    space: &crate::space::Space,
) -> EnvError {
    EnvError::InvalidAction {
        action: action.to_string(),
        space: space.describe(),
    }
}
