//! The environment interface, with Gymnasium 1.x semantics.

use crate::model::Model;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

/// What one `step` returns besides the observation (which is written into the caller's buffer).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Step {
    /// Gymnasium rewards are Python floats: kept as `f64` so parity checks are exact.
    pub reward: f64,
    /// The episode reached a terminal state of the MDP (do not bootstrap).
    pub terminated: bool,
    /// The episode was cut short, e.g. by a time limit (bootstrap from the last observation).
    pub truncated: bool,
}

impl Step {
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A value in an environment's `info` dictionary.
#[derive(Clone, Debug, PartialEq)]
pub enum InfoValue {
    Float(f64),
    Int(i64),
    Bool(bool),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
}

/// Gymnasium's `info`: built only on request (see [`Env::info`]), never on the stepping path.
pub type Info = Vec<(&'static str, InfoValue)>;

/// A rendered frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Render {
    /// Toy text's `ansi` mode.
    Text(String),
    /// Classic control's `rgb_array` mode: `height x width x 3` bytes, row-major.
    Rgb {
        width: usize,
        height: usize,
        pixels: Vec<u8>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderMode {
    Text,
    Rgb,
}

/// Everything that can go wrong when using an environment. Messages name the problem and the fix.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EnvError {
    #[error("action {action} is outside the action space {space}")]
    InvalidAction { action: String, space: String },
    #[error("step() called after the episode ended (terminated or truncated): call reset() first")]
    NeedsReset,
    #[error("step() called before the first reset(): call reset() first")]
    NotReset,
    #[error("unknown environment id `{id}`{suggestion}")]
    UnknownId { id: String, suggestion: String },
    #[error("environment `{id}`: {message}")]
    BadOption { id: String, message: String },
    #[error("{0} is not supported by this environment")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
}

/// An environment: Gymnasium's `Env`, with observations written into caller-owned buffers.
///
/// Observations use the flat encoding of [`Space`]: the caller passes a buffer of
/// `observation_space().flat_dim()` `f32`s. `Send` so that each A3C worker can own one.
pub trait Env: Send {
    fn observation_space(&self) -> &Space;
    fn action_space(&self) -> &Space;

    /// Starts an episode. `Some(seed)` reseeds the environment's RNG exactly as Gymnasium's
    /// `reset(seed=seed)` does; `None` continues the current stream.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError>;

    /// Advances one step. Errors on an action outside the space and on stepping a finished
    /// episode (Gymnasium's `OrderEnforcing`/`PassiveEnvChecker`, as errors instead of panics).
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError>;

    /// The `info` dict of the last reset/step (e.g. toy text's `prob`, Taxi's `action_mask`).
    fn info(&self) -> Info {
        Info::new()
    }

    /// Valid actions in the current state, for masked policies; `None` when all are valid.
    fn action_mask(&self) -> Option<&[bool]> {
        None
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        Err(EnvError::Unsupported(format!("render mode {mode:?}")))
    }

    /// The unwrapped environment's internal state as Gymnasium exposes it (`env.unwrapped.state`),
    /// for parity tests and debugging.
    fn state(&self) -> Option<Vec<f64>> {
        None
    }

    /// Overwrites the internal state (the inverse of [`Env::state`]).
    fn set_state(&mut self, _state: &[f64]) -> Result<(), EnvError> {
        Err(EnvError::Unsupported("set_state".into()))
    }

    /// The random source the environment draws from, so that a replay can inject recorded draws.
    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        None
    }

    /// The MDP's transition table (Gymnasium's `env.unwrapped.P`), for environments whose
    /// dynamics are a finite table over the observation's states; `None` otherwise.
    /// Wrappers that leave the dynamics alone (time limits, order checks) pass it through.
    fn model(&self) -> Option<std::sync::Arc<Model>> {
        None
    }

    /// The environment as one of the finite MDPs that step by numbers ([`StepByIndex`]), for
    /// tabular learners' inner loops; `None` for every other environment (and for wrappers).
    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        None
    }
}

/// One step of a finite MDP in numbers: the state reached, the reward, and whether the
/// episode terminated there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndexStep {
    pub next: usize,
    pub reward: f64,
    pub terminated: bool,
}

/// An environment whose observation is its state's number (`Discrete(n)` from 0) and whose
/// actions are numbered from 0, stepped by numbers. [`StepByIndex::step_index`] is
/// [`Env::step`] without what that does for every caller (the `Action` enum and its range
/// check, the episode-order check, the observation buffer, the `Result`): in a tabular
/// method's loop those cost as much as the step itself. Same draws, same state changes.
pub trait StepByIndex {
    /// The current state's number (the observation).
    fn state_index(&self) -> usize;

    /// `Env::step` with the action numbered `action`. The caller keeps `Env::step`'s
    /// contract itself: the episode is running and `action` is below the number of actions
    /// (an action past the table panics).
    fn step_index(&mut self, action: usize) -> IndexStep;
}

/// The built-in environments that step by numbers, as [`Env::by_index`] hands them out: a
/// caller's loop over [`StepByIndex`] is then compiled with each step inlined (one match on a
/// tag that never changes, instead of a dynamic call).
pub enum ByIndex<'a> {
    FrozenLake(&'a mut crate::toy_text::FrozenLake),
    CliffWalking(&'a mut crate::toy_text::CliffWalking),
    Taxi(&'a mut crate::toy_text::Taxi),
    /// The textbook's grid worlds, random walk, gambler and Jack's car rental.
    Table(&'a mut crate::sutton_barto::TableEnv),
}

impl StepByIndex for ByIndex<'_> {
    #[inline]
    fn state_index(&self) -> usize {
        match self {
            ByIndex::FrozenLake(env) => env.state_index(),
            ByIndex::CliffWalking(env) => env.state_index(),
            ByIndex::Taxi(env) => env.state_index(),
            ByIndex::Table(env) => env.state_index(),
        }
    }

    #[inline(always)]
    fn step_index(&mut self, action: usize) -> IndexStep {
        match self {
            ByIndex::FrozenLake(env) => env.step_index(action),
            ByIndex::CliffWalking(env) => env.step_index(action),
            ByIndex::Taxi(env) => env.step_index(action),
            ByIndex::Table(env) => env.step_index(action),
        }
    }
}

impl<E: Env + ?Sized> Env for Box<E> {
    fn observation_space(&self) -> &Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> &Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        (**self).reset(seed, obs)
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        (**self).step(action, obs)
    }
    fn info(&self) -> Info {
        (**self).info()
    }
    fn action_mask(&self) -> Option<&[bool]> {
        (**self).action_mask()
    }
    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        (**self).render(mode)
    }
    fn state(&self) -> Option<Vec<f64>> {
        (**self).state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        (**self).set_state(state)
    }
    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        (**self).rng_mut()
    }
    fn model(&self) -> Option<std::sync::Arc<Model>> {
        (**self).model()
    }
    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        (**self).by_index()
    }
}
