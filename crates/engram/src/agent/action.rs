//! Actions: the kind of action distribution an action space calls for, and stepping an
//! environment with a flat `f32` action (discrete actions travel as their index).

use engram_env::{Action, Env, EnvError, Space};

/// The action distribution, from the action space.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Categorical {
        n: usize,
        start: i64,
    },
    MultiCategorical {
        nvec: Vec<usize>,
    },
    Gaussian {
        dim: usize,
        low: Vec<f32>,
        high: Vec<f32>,
    },
}

impl ActionKind {
    /// The kind for `space`, or `None` for spaces no policy acts in (Tuples).
    pub fn of(space: &Space) -> Option<ActionKind> {
        match space {
            Space::Discrete { n, start } => Some(ActionKind::Categorical {
                n: *n as usize,
                start: *start,
            }),
            Space::MultiDiscrete { nvec } => Some(ActionKind::MultiCategorical {
                nvec: nvec.iter().map(|&n| n as usize).collect(),
            }),
            Space::Box { low, high, shape } => Some(ActionKind::Gaussian {
                dim: shape.iter().product(),
                low: low.clone(),
                high: high.clone(),
            }),
            Space::Tuple(_) => None,
        }
    }

    /// Floats in one flat action.
    pub fn action_dim(&self) -> usize {
        match self {
            ActionKind::Categorical { .. } => 1,
            ActionKind::MultiCategorical { nvec } => nvec.len(),
            ActionKind::Gaussian { dim, .. } => *dim,
        }
    }

    /// Width of a policy head: logits of every categorical component, or Gaussian means.
    pub fn head_width(&self) -> usize {
        match self {
            ActionKind::Categorical { n, .. } => *n,
            ActionKind::MultiCategorical { nvec } => nvec.iter().sum(),
            ActionKind::Gaussian { dim, .. } => *dim,
        }
    }
}

/// Scratch for [`step_env`]: MultiDiscrete indices and clipped continuous actions.
#[derive(Clone, Debug)]
pub struct StepScratch {
    discrete: Vec<i64>,
    clipped: Vec<f32>,
}

impl StepScratch {
    pub fn new(action_dim: usize) -> StepScratch {
        StepScratch {
            discrete: vec![0; action_dim],
            clipped: vec![0.0; action_dim],
        }
    }
}

/// Steps one environment with a flat action, clipping Gaussian actions to the box (the
/// unclipped action is what the policy's log-probability refers to, as in SB3).
pub fn step_env(
    env: &mut dyn Env,
    kind: &ActionKind,
    action: &[f32],
    scratch: &mut StepScratch,
    obs: &mut [f32],
) -> Result<engram_env::Step, EnvError> {
    match kind {
        ActionKind::Categorical { start, .. } => {
            env.step(Action::Discrete(*start + action[0] as i64), obs)
        }
        ActionKind::MultiCategorical { .. } => {
            for (d, a) in scratch.discrete.iter_mut().zip(action) {
                *d = *a as i64;
            }
            env.step(Action::MultiDiscrete(&scratch.discrete), obs)
        }
        ActionKind::Gaussian { low, high, .. } => {
            for ((c, a), (lo, hi)) in scratch
                .clipped
                .iter_mut()
                .zip(action)
                .zip(low.iter().zip(high))
            {
                *c = a.clamp(*lo, *hi);
            }
            env.step(Action::Continuous(&scratch.clipped), obs)
        }
    }
}
