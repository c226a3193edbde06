//! Networks that act and learn: they know the spaces and their config sections, never a
//! buffer, a run or an algorithm. Losses live with the algorithms; agents offer forward and
//! backward passes over slices.
//!
//! Every agent implements [`Act`], which is all the evaluator, `engram eval` and checkpoints
//! need to know of it.

pub mod action;
pub mod actor_critic;
pub mod continuous;
pub mod encode;
pub mod q_network;
pub mod tabular;

pub use action::{step_env, ActionKind, StepScratch};
pub use actor_critic::{Actor, ActorCritic, DistRows, Part, SequencePass};
pub use encode::Encoder;
pub use q_network::QNetwork;

use crate::error::TrainError;
use engram_nn::onnx::Graph;
use engram_nn::ParamLayout;
use rand_chacha::ChaCha8Rng;

/// A trained agent as the runtime sees it: its parameter layout, and single-environment play.
pub trait Act: Send + Sync {
    fn layout(&self) -> &ParamLayout;
    /// Floats in one flat observation.
    fn obs_dim(&self) -> usize;
    fn action_kind(&self) -> &ActionKind;
    /// A player for one environment, with its own recurrent state and scratch.
    fn player<'a>(&'a self, params: &'a [f32]) -> Box<dyn Player + 'a>;
    /// Writes the greedy forward pass into an ONNX graph, from the (already normalised)
    /// observations `obs` `[batch, obs_dim]`: declares the input `state_in` when there is a
    /// recurrent state and adds the outputs `action`, then what [`Player::outputs`] names, then
    /// `state_out`.
    fn onnx(&self, _g: &mut Graph, _params: &[f32], _obs: &str) -> Result<(), TrainError> {
        Err(TrainError::Usage(
            "this agent has no ONNX export".to_string(),
        ))
    }
}

/// Plays one environment with fixed parameters.
pub trait Player {
    /// At each episode's start: zero the recurrent state, redraw exploration noise.
    fn reset(&mut self);
    /// One step from `obs`: writes the flat action; greedy when `rng` is `None`.
    fn act(&mut self, obs: &[f32], rng: Option<&mut ChaCha8Rng>, action: &mut [f32]);
    /// The recurrent state carried from step to step (empty without a recurrent core), so
    /// that a caller can keep one per environment (SB3's `predict(obs, state)`).
    fn recurrent_state(&self) -> &[f32] {
        &[]
    }
    /// Restores a state of [`Player::recurrent_state`]'s length; other lengths are ignored.
    fn set_recurrent_state(&mut self, _state: &[f32]) {}
    /// The network's outputs of the last [`Player::act`] by name (`logits` or `mean` and
    /// `value`, `q_values`, ...): the same names and numbers as the ONNX export's outputs.
    fn outputs(&self) -> Vec<(&'static str, Vec<f32>)> {
        Vec::new()
    }
    /// Inside the recurrent core after the last [`Player::act`], one row per unit: the hidden
    /// state `h`, the LSTM cell `c`, and every gate after its non-linearity (LSTM `i`, `f`,
    /// `g`, `o`; GRU `r`, `z`, `n`). A separate critic network's names start with `critic.`.
    /// Empty without a recurrent core.
    fn core_record(&self) -> Vec<(String, Vec<f32>)> {
        Vec::new()
    }
}
