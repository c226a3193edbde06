//! One flat parameter vector with one optimizer per contiguous part (SAC: actor, critics,
//! entropy coefficient; TD3: actor, critics), as SB3 keeps one Adam per module: each part's
//! step count and moments move only when its own loss is optimised.
//!
//! Checkpoints hold each part's optimizer as `optim.<part>.<buffer>.<param>` over the whole
//! layout (zeros outside the part), so the runtime saves and loads them like any optimizer.

use super::driver::Guard;
use crate::config::OptimConfig;
use crate::error::TrainError;
use crate::runtime::checkpoint::load_params;
use crate::runtime::Session;
use engram_nn::optim::{clip_grad_norm, Optimizer, OptimizerState};
use engram_nn::ParamLayout;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// Where a learner's parameters come from.
pub enum Start<'a> {
    /// A run: the session's initial parameters, or its checkpoint when resuming.
    Session(&'a Session),
    /// Benchmarks and tests: fresh parameters from this seed, fresh optimizers.
    Seed(u64),
}

/// The parameters with one optimizer per part and a copy kept as target networks (SAC, TD3,
/// DDPG): restored from the checkpoint (targets from its tensors named `target_name`) when
/// the session resumes, else the target starts as a copy of the parameters.
pub fn with_target(
    start: Start,
    layout: &ParamLayout,
    optim: &OptimConfig,
    parts: &[(&str, Range<usize>)],
    target_name: &str,
) -> Result<(SplitStore, Vec<f32>), TrainError> {
    let store = match start {
        Start::Session(session) => {
            let store = SplitStore::new(session, layout, optim, parts)?;
            if let Some(r) = &session.resume {
                let target = load_params(&r.checkpoint, layout, target_name, &r.path)?;
                return Ok((store, target));
            }
            store
        }
        Start::Seed(seed) => SplitStore::fresh(
            layout.initialize(&mut ChaCha8Rng::seed_from_u64(seed)),
            optim,
            parts,
        ),
    };
    let target = store.params.clone();
    Ok((store, target))
}

struct Part {
    prefix: String,
    range: Range<usize>,
    optimizer: Box<dyn Optimizer>,
}

pub struct SplitStore {
    pub params: Vec<f32>,
    parts: Vec<Part>,
    len: usize,
}

impl SplitStore {
    /// Parameters (from the checkpoint when resuming, else from the run's seed) and one
    /// optimizer per non-empty `(name, range)`, restored when resuming.
    pub fn new(
        session: &Session,
        layout: &ParamLayout,
        optim: &OptimConfig,
        parts: &[(&str, Range<usize>)],
    ) -> Result<SplitStore, TrainError> {
        let len = layout.len();
        let mut built = Vec::new();
        for (name, range) in parts.iter().filter(|(_, r)| !r.is_empty()) {
            let prefix = format!("optim.{name}");
            let mut optimizer = optim.optimizer().build(range.len());
            let fresh = pad(&optimizer.state(), range, len);
            if let Some(state) = session.restored_optimizer(&prefix, &fresh, layout)? {
                optimizer
                    .load_state(&cut(&state, range))
                    .map_err(|e| TrainError::Usage(format!("optimizer state `{prefix}`: {e}")))?;
            }
            built.push(Part {
                prefix,
                range: range.clone(),
                optimizer,
            });
        }
        Ok(SplitStore {
            params: session.initial_params(layout)?,
            parts: built,
            len,
        })
    }

    /// Fresh optimizers over `params` (benchmarks and tests).
    pub fn fresh(
        params: Vec<f32>,
        optim: &OptimConfig,
        parts: &[(&str, Range<usize>)],
    ) -> SplitStore {
        SplitStore {
            len: params.len(),
            params,
            parts: parts
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .map(|(name, range)| Part {
                    prefix: format!("optim.{name}"),
                    range: range.clone(),
                    optimizer: optim.optimizer().build(range.len()),
                })
                .collect(),
        }
    }

    /// One optimizer step of part `name` with its gradient `grads` (the part's range of a
    /// whole-layout gradient).
    pub fn apply(&mut self, name: &str, grads: &[f32], lr: f32) {
        if let Some(part) = self.parts.iter_mut().find(|p| p.prefix[6..] == *name) {
            let range = part.range.clone();
            part.optimizer
                .step(&mut self.params[range.clone()], &grads[range], lr);
        }
    }

    /// Clips part `name`'s range of the whole-layout gradient `grads` to `max_grad_norm`,
    /// asks `guard` whether the loss and the norm are finite, and if so takes the part's
    /// optimizer step. False: a non-finite update stopped training (the guard was told).
    pub fn clip_and_apply(
        &mut self,
        name: &str,
        grads: &mut [f32],
        loss: f64,
        lr: f32,
        max_grad_norm: f32,
        guard: &dyn Guard,
    ) -> bool {
        let Some(range) = self
            .parts
            .iter()
            .find(|p| p.prefix[6..] == *name)
            .map(|p| p.range.clone())
        else {
            return true;
        };
        let norm = clip_grad_norm(&mut grads[range], max_grad_norm) as f64;
        if !guard.update_is_finite(loss, norm) {
            return false;
        }
        self.apply(name, grads, lr);
        true
    }

    /// Every part's optimizer state over the whole layout, for a checkpoint.
    pub fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        self.parts
            .iter()
            .map(|p| {
                (
                    p.prefix.clone(),
                    pad(&p.optimizer.state(), &p.range, self.len),
                )
            })
            .collect()
    }
}

fn pad(state: &OptimizerState, range: &Range<usize>, len: usize) -> OptimizerState {
    OptimizerState {
        kind: state.kind.clone(),
        step: state.step,
        buffers: state
            .buffers
            .iter()
            .map(|(name, data)| {
                let mut full = vec![0.0; len];
                full[range.clone()].copy_from_slice(data);
                (name.clone(), full)
            })
            .collect(),
    }
}

fn cut(state: &OptimizerState, range: &Range<usize>) -> OptimizerState {
    OptimizerState {
        kind: state.kind.clone(),
        step: state.step,
        buffers: state
            .buffers
            .iter()
            .map(|(name, data)| (name.clone(), data[range.clone()].to_vec()))
            .collect(),
    }
}
