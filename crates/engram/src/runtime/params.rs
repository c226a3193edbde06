//! Where the parameters an update is applied to live ([`ParamStore`]): one thread's own
//! parameters and optimizer ([`LocalStore`]), or A3C's lock-free shared ones
//! ([`HogwildStore`]); and how a run starts them, fresh from its seed or from the checkpoint
//! it resumes.

use super::checkpoint::{load_optimizer, load_params};
use super::session::Session;
use crate::config::OptimConfig;
use crate::error::TrainError;
use engram_nn::optim::{scale_grads, Optimizer, OptimizerState};
use engram_nn::shared::{SharedOptimizer, SharedParams};
use engram_nn::ParamLayout;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Where the parameters an update is applied to live.
pub trait ParamStore {
    /// Copies the current parameters into a worker's local buffer.
    fn read(&self, local: &mut [f32]);
    fn apply(&mut self, grads: &[f32], lr: f32);
    /// Applies `grads * grad_scale` (a clipped gradient's factor; `grads` may be scaled in
    /// place), then copies the parameters into `local` for the next rollout; returns whether
    /// they are all finite. A3C's store does it in the shared optimizer's one pass.
    fn apply_and_read(
        &mut self,
        grads: &mut [f32],
        grad_scale: f32,
        lr: f32,
        local: &mut [f32],
    ) -> bool {
        scale_grads(grads, grad_scale);
        self.apply(grads, lr);
        self.read(local);
        engram_nn::kernels::all_finite(local)
    }
    fn snapshot(&self) -> Vec<f32>;
    /// Optimizer states to checkpoint, with their tensor prefixes.
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)>;
}

/// A3C: the global Hogwild parameters and this worker's (possibly shared) optimizer.
pub struct HogwildStore {
    pub params: Arc<SharedParams>,
    pub optimizer: Arc<dyn SharedOptimizer>,
    /// All optimizers of the run (one if shared), for checkpoints.
    pub all_optimizers: Arc<Vec<Arc<dyn SharedOptimizer>>>,
}

impl ParamStore for HogwildStore {
    fn read(&self, local: &mut [f32]) {
        self.params.read_into(local);
    }
    fn apply(&mut self, grads: &[f32], lr: f32) {
        self.optimizer.apply(&self.params, grads, lr);
    }
    fn apply_and_read(
        &mut self,
        grads: &mut [f32],
        grad_scale: f32,
        lr: f32,
        local: &mut [f32],
    ) -> bool {
        self.optimizer
            .apply_and_read(&self.params, grads, grad_scale, lr, Some(local))
    }
    fn snapshot(&self) -> Vec<f32> {
        self.params.snapshot()
    }
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        optimizer_prefixes(self.all_optimizers.len())
            .into_iter()
            .zip(self.all_optimizers.iter().map(|o| o.state()))
            .collect()
    }
}

/// Plain parameters and optimizer on one thread.
pub struct LocalStore {
    pub params: Vec<f32>,
    pub optimizer: Box<dyn Optimizer>,
}

impl ParamStore for LocalStore {
    fn read(&self, local: &mut [f32]) {
        local.copy_from_slice(&self.params);
    }
    fn apply(&mut self, grads: &[f32], lr: f32) {
        self.optimizer.step(&mut self.params, grads, lr);
    }
    fn snapshot(&self) -> Vec<f32> {
        self.params.clone()
    }
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        vec![("optim".into(), self.optimizer.state())]
    }
}

/// Checkpoint prefixes of `n` optimizers: `optim`, or `optim.w0`, `optim.w1`, ... per worker.
pub fn optimizer_prefixes(n: usize) -> Vec<String> {
    if n == 1 {
        vec!["optim".into()]
    } else {
        (0..n).map(|w| format!("optim.w{w}")).collect()
    }
}

impl Session {
    /// Initial parameters of `layout`: tensors `prefix.<name>` of the checkpoint when resuming
    /// (`""` for the policy itself), else drawn from the run's seed.
    pub fn initial_params(&self, layout: &ParamLayout) -> Result<Vec<f32>, TrainError> {
        match &self.resume {
            Some(r) => {
                r.checkpoint
                    .check_architecture(&layout.signature(), &r.path)?;
                Ok(load_params(&r.checkpoint, layout, "", &r.path)?)
            }
            None => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.common.seed ^ 0xA3C0_FFEE);
                Ok(layout.initialize(&mut rng))
            }
        }
    }

    /// Optimizer `prefix` as the checkpoint holds it, when resuming (`fresh`: a new one of the
    /// same kind, which names the buffers to read).
    pub fn restored_optimizer(
        &self,
        prefix: &str,
        fresh: &OptimizerState,
        layout: &ParamLayout,
    ) -> Result<Option<OptimizerState>, TrainError> {
        let Some(r) = &self.resume else {
            return Ok(None);
        };
        let Some((_, kind, step)) = r.state.optimizers.iter().find(|(p, _, _)| p == prefix) else {
            return Err(TrainError::Usage(format!(
                "checkpoint {} has no optimizer state `{prefix}`: it was written with another optimizer setting \
                 (optimizer / shared_optimizer_stats / workers)",
                r.path.display()
            )));
        };
        let names: Vec<String> = fresh.buffers.iter().map(|(n, _)| n.clone()).collect();
        Ok(Some(load_optimizer(
            &r.checkpoint,
            layout,
            prefix,
            kind,
            *step,
            &names,
            &r.path,
        )?))
    }

    /// Parameters and one optimizer on this thread, restored when resuming.
    pub fn local_store(
        &self,
        layout: &ParamLayout,
        optim: &OptimConfig,
    ) -> Result<LocalStore, TrainError> {
        let mut optimizer = optim.optimizer().build(layout.len());
        if let Some(state) = self.restored_optimizer("optim", &optimizer.state(), layout)? {
            optimizer
                .load_state(&state)
                .map_err(|e| TrainError::Usage(format!("optimizer state: {e}")))?;
        }
        Ok(LocalStore {
            params: self.initial_params(layout)?,
            optimizer,
        })
    }
}
