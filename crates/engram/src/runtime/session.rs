//! A run as an algorithm sees it: one [`Session`] offers the scaffolding every algorithm
//! needs, one call each: start the evaluator with the agent, account each update
//! ([`Session::after_update`]: log, evaluate, checkpoint as they fall due), guard against
//! non-finite updates, and finish (the final checkpoint).

use super::checkpoint::{
    optimizer_tensors, save_checkpoint_unless_unchanged, Checkpoint, CheckpointParts, RunState,
};
use super::evaluator::{Evaluator, Snapshot};
use super::metrics::Metric;
use super::monitor::{lock, Monitor, StopReason};
use super::run_dir;
use crate::agent::Act;
use crate::config::CommonConfig;
use crate::error::{CheckpointError, TrainError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The checkpoint a resumed run continues from.
pub struct Resume {
    pub checkpoint: Checkpoint,
    pub state: RunState,
    pub path: PathBuf,
}

pub struct Session {
    pub common: CommonConfig,
    /// The run's whole configuration as a flat table (what checkpoints store).
    pub config: toml::Table,
    pub run_dir: PathBuf,
    pub monitor: Arc<Monitor>,
    pub resume: Option<Resume>,
    agent: Option<Arc<dyn Act>>,
    evaluator: Option<Evaluator>,
    /// Serialises checkpoint writes of concurrent workers; holds the env steps of the last
    /// one written, so that an older state never replaces a newer one, and its bytes (small
    /// ones), so that the final checkpoint does not rewrite an identical one.
    saving: Mutex<(u64, Option<Vec<u8>>)>,
}

impl Session {
    pub fn new(
        common: CommonConfig,
        config: toml::Table,
        run_dir: PathBuf,
        monitor: Arc<Monitor>,
        resume: Option<Resume>,
    ) -> Session {
        Session {
            common,
            config,
            run_dir,
            monitor,
            resume,
            agent: None,
            evaluator: None,
            saving: Mutex::new((0, None)),
        }
    }

    /// Names the agent whose parameters this run trains (checkpoints are written with its
    /// layout) and starts the background evaluator. `blocking`: each evaluation finishes
    /// before training goes on, which single-threaded runs need to stay deterministic.
    pub fn start(&mut self, agent: Arc<dyn Act>, blocking: bool) -> Result<(), TrainError> {
        let evaluator = Evaluator::start(
            &self.common,
            agent.clone(),
            self.monitor.clone(),
            &self.run_dir,
            self.run_state(Vec::new(), Vec::new(), None),
            blocking,
        )?;
        self.agent = Some(agent);
        self.evaluator = Some(evaluator);
        Ok(())
    }

    /// Whether training goes on (no budget reached, no stop requested, no failure).
    pub fn running(&self) -> bool {
        self.monitor.should_stop().is_none()
    }

    /// Checks an update's loss and gradient norm before it is applied; on NaN/inf tells the
    /// monitor (which stops every worker) and returns false, so the update is not applied.
    pub fn update_is_finite(&self, loss: f64, grad_norm: f64) -> bool {
        if loss.is_finite() && grad_norm.is_finite() {
            return true;
        }
        self.monitor.fail(format!(
            "non-finite loss ({loss}) or gradient norm ({grad_norm}) at {} env steps: training stopped, \
             the last good checkpoint is kept. Try a lower learning_rate or max_grad_norm",
            self.monitor.env_steps()
        ));
        false
    }

    /// Checks the parameters after an update: an update that made one non-finite (a huge
    /// learning rate, an Adam beta that rounds to 1 in f32) stops training with a message,
    /// and the last good checkpoint is kept. Returns false then.
    pub fn params_are_finite(&self, params: &[f32]) -> bool {
        if engram_nn::kernels::all_finite(params) {
            return true;
        }
        let i = params.iter().position(|v| !v.is_finite()).unwrap_or(0);
        self.monitor.fail(format!(
            "a parameter became non-finite ({}, index {i}) in the update before {} env steps: \
             training stopped, the last good checkpoint is kept. Try a lower learning_rate or \
             max_grad_norm",
            params[i],
            self.monitor.env_steps()
        ));
        false
    }

    /// Accounts one applied update of `steps` new environment steps and its metrics, then
    /// logs, evaluates and checkpoints as they fall due. `parts` is called only when an
    /// evaluation or a checkpoint is due.
    pub fn after_update(
        &self,
        steps: u64,
        metrics: &[Metric],
        parts: &mut dyn FnMut() -> CheckpointParts,
    ) -> Result<(), TrainError> {
        let duties = self.monitor.update_done(steps, metrics);
        if duties.log {
            self.monitor.log_row();
        }
        if !(duties.evaluate || duties.checkpoint) {
            return Ok(());
        }
        let parts = parts();
        if !self.params_are_finite(&parts.params) {
            // Neither evaluated nor saved; the loop stops at its next check.
            return Ok(());
        }
        if duties.evaluate {
            if let Some(evaluator) = &self.evaluator {
                evaluator.submit(Snapshot {
                    obs_stats: parts.obs_stats.clone(),
                    env_steps: duties.env_steps,
                    params: parts.params.clone(),
                    monitor: self.monitor.state(),
                });
            }
        }
        if duties.checkpoint {
            if let Some(evaluator) = &self.evaluator {
                evaluator.settle();
            }
            self.write_latest(parts)?;
        }
        Ok(())
    }

    fn run_state(
        &self,
        optimizers: Vec<(String, String, u64)>,
        collectors: Vec<Option<serde_json::Value>>,
        obs_stats: Option<engram_env::wrappers::RunningMeanStd>,
    ) -> RunState {
        RunState {
            algo: self.common.algo.clone(),
            env: self.common.env.clone(),
            config: self.config.clone(),
            monitor: self.monitor.state(),
            optimizers,
            collectors,
            obs_stats,
        }
    }

    /// Saves `checkpoints/latest.safetensors`: parameters, optimizer statistics, the run state
    /// and the algorithm's own tensors.
    pub fn write_latest(&self, parts: CheckpointParts) -> Result<(), TrainError> {
        let Some(agent) = &self.agent else {
            return Err(TrainError::Policy(
                "internal: Session::start was not called before the first checkpoint".into(),
            ));
        };
        // The rows logged up to this checkpoint reach their files first: a run resumed from
        // it continues them without a gap.
        if !self.monitor.flush_logs() {
            return Err(TrainError::Policy(
                self.monitor.failure().unwrap_or_default(),
            ));
        }
        let layout = agent.layout();
        let CheckpointParts {
            params,
            optimizers,
            mut extra,
            collectors,
            obs_stats,
        } = parts;
        let mut saved = Vec::new();
        for (prefix, state) in &optimizers {
            extra.extend(optimizer_tensors(prefix, layout, state));
            saved.push((prefix.clone(), state.kind.clone(), state.step));
        }
        // A3C workers save concurrently: one at a time, and the counters are read under the
        // lock, so the file's env steps never go backwards.
        let mut last = lock(&self.saving);
        let state = self.run_state(saved, collectors, obs_stats);
        let steps = state.monitor.counters.env_steps;
        if steps < last.0 {
            return Ok(());
        }
        last.0 = steps;
        let path = self.run_dir.join(run_dir::LATEST);
        match save_checkpoint_unless_unchanged(&path, layout, &params, extra, &state, &mut last.1) {
            Err(TrainError::Checkpoint(CheckpointError::Io { source, .. })) => {
                // The previous checkpoint is intact (atomic writes): stop, and say so.
                self.monitor.fail_to_write(&path, &source);
                Err(TrainError::Policy(
                    self.monitor.failure().unwrap_or_default(),
                ))
            }
            other => other,
        }
    }

    /// Ends the loop: waits for the evaluator, then writes the final checkpoint unless the run
    /// failed. `result` is the loop's own outcome; a failure reported through the monitor
    /// wins over it.
    pub fn finish(
        &mut self,
        result: Result<(), TrainError>,
        parts: impl FnOnce() -> CheckpointParts,
    ) -> Result<StopReason, TrainError> {
        if let Some(evaluator) = self.evaluator.take() {
            evaluator.finish()?;
        }
        let reason = self.stop_reason();
        result?;
        if reason != StopReason::Failed {
            self.write_latest(parts())?;
        }
        Ok(reason)
    }

    /// Why the loop ended: a failure wins over everything.
    pub fn stop_reason(&self) -> StopReason {
        self.monitor.should_stop().unwrap_or(StopReason::Budget)
    }
}
