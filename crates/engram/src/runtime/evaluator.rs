//! Evaluation of an agent: greedy (argmax / Gaussian mean) or sampled, over whole episodes
//! ([`evaluate`], which `engram eval` also calls), and the background evaluator that plays
//! snapshots beside training and keeps the best as `checkpoints/best.safetensors`.

use super::checkpoint::{save_checkpoint, RunState};
use super::metrics::EvalRow;
use super::monitor::{Monitor, MonitorState};
use super::run_dir;
use crate::agent::{step_env, Act, StepScratch};
use crate::config::CommonConfig;
use crate::error::TrainError;
use engram_env::wrappers::RunningMeanStd;
use engram_env::Env;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// SB3 VecNormalize's epsilon and observation clip, with which normalised observations were
/// trained (and are evaluated with frozen statistics).
pub const NORMALIZE_EPS: f64 = 1e-8;
pub const NORMALIZE_CLIP: f32 = 10.0;

/// Returns and lengths of evaluation episodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalResult {
    pub returns: Vec<f64>,
    pub lengths: Vec<u64>,
}

impl EvalResult {
    pub fn mean(&self) -> f64 {
        self.returns.iter().sum::<f64>() / self.returns.len().max(1) as f64
    }

    /// Population standard deviation (numpy's default, as SB3's evaluate_policy reports).
    pub fn std(&self) -> f64 {
        let m = self.mean();
        (self.returns.iter().map(|r| (r - m).powi(2)).sum::<f64>()
            / self.returns.len().max(1) as f64)
            .sqrt()
    }
}

/// Seeds of evaluation episodes: the same episodes at every evaluation of a run, so that
/// evaluations are comparable, and disjoint from the training seeds' stream.
pub fn eval_seed(base: u64, episode: usize) -> u64 {
    base.wrapping_mul(1_000_003)
        .wrapping_add(10_000_000 + episode as u64)
}

/// Longest evaluation episode. Environments without a time limit (CliffWalking, say) would
/// otherwise let a greedy policy that never reaches the goal evaluate forever; such an
/// episode is cut here and counted with the return it has.
pub const MAX_EVAL_EPISODE_STEPS: u64 = 10_000;

/// An agent as trained: its network, parameters and, when observations were normalised, the
/// (frozen) statistics they were normalised with.
#[derive(Clone, Copy)]
pub struct Trained<'a> {
    pub agent: &'a dyn Act,
    pub params: &'a [f32],
    pub obs_stats: Option<&'a RunningMeanStd>,
}

/// Plays `episodes` whole episodes (at most [`MAX_EVAL_EPISODE_STEPS`] steps each), reset with
/// [`eval_seed`]`(seed, episode)`. `sample_seed` = None acts greedily.
pub fn evaluate(
    trained: Trained<'_>,
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    sample_seed: Option<u64>,
    on_step: impl FnMut(&dyn Env, usize, u64),
) -> Result<EvalResult, engram_env::EnvError> {
    evaluate_range(trained, env, 0..episodes, seed, sample_seed, on_step)
}

/// [`evaluate`] of the episodes numbered `episodes` only (the same starts as in a whole
/// evaluation), so that a caller can play a long evaluation in parts.
pub fn evaluate_range(
    trained: Trained<'_>,
    env: &mut dyn Env,
    episodes: std::ops::Range<usize>,
    seed: u64,
    sample_seed: Option<u64>,
    mut on_step: impl FnMut(&dyn Env, usize, u64),
) -> Result<EvalResult, engram_env::EnvError> {
    let Trained {
        agent,
        params,
        obs_stats,
    } = trained;
    let kind = agent.action_kind();
    let mut player = agent.player(params);
    let mut rng = sample_seed.map(ChaCha8Rng::seed_from_u64);
    let mut obs = vec![0.0; agent.obs_dim()];
    let mut action = vec![0.0; kind.action_dim()];
    let mut scratch = StepScratch::new(kind.action_dim());
    let normalize = |obs: &mut [f32]| {
        if let Some(stats) = obs_stats {
            stats.normalize_clipped(obs, NORMALIZE_EPS, NORMALIZE_CLIP);
        }
    };
    let mut result = EvalResult::default();
    for episode in episodes {
        env.reset(Some(eval_seed(seed, episode)), &mut obs)?;
        normalize(&mut obs);
        player.reset();
        let (mut ret, mut len) = (0.0, 0u64);
        on_step(env, episode, 0);
        loop {
            player.act(&obs, rng.as_mut(), &mut action);
            let step = step_env(env, kind, &action, &mut scratch, &mut obs)?;
            normalize(&mut obs);
            ret += step.reward;
            len += 1;
            on_step(env, episode, len);
            if step.terminated || step.truncated || len >= MAX_EVAL_EPISODE_STEPS {
                break;
            }
        }
        result.returns.push(ret);
        result.lengths.push(len);
    }
    Ok(result)
}

/// Parameters to evaluate, taken at `env_steps`.
pub struct Snapshot {
    pub env_steps: u64,
    pub params: Vec<f32>,
    /// Observation statistics when observations are normalised (frozen for the evaluation).
    pub obs_stats: Option<RunningMeanStd>,
    /// The run's counters when the snapshot was taken: saved with the best parameters, so
    /// that `best.safetensors` does not depend on how far the learner got meanwhile.
    pub monitor: MonitorState,
}

/// Evaluates snapshots on its own thread and keeps the best as `checkpoints/best.safetensors`.
/// Workers hand it snapshots without waiting (a snapshot arriving while one is being evaluated
/// is skipped), except in single-worker runs, where waiting keeps the run deterministic.
pub struct Evaluator {
    tx: Option<SyncSender<Snapshot>>,
    handle: Option<JoinHandle<Result<(), TrainError>>>,
    blocking: bool,
    /// Snapshots submitted and not yet evaluated.
    pending: Arc<(Mutex<usize>, Condvar)>,
}

impl Evaluator {
    /// `state`: the run state saved with the best parameters (its monitor is refreshed).
    pub fn start(
        common: &CommonConfig,
        agent: Arc<dyn Act>,
        monitor: Arc<Monitor>,
        run_dir: &Path,
        state: RunState,
        blocking: bool,
    ) -> Result<Evaluator, TrainError> {
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        if common.eval_interval == 0 {
            return Ok(Evaluator {
                tx: None,
                handle: None,
                blocking,
                pending,
            });
        }
        let mut env = common.make_env()?;
        let (tx, rx): (SyncSender<Snapshot>, Receiver<Snapshot>) = sync_channel(1);
        let best_path = run_dir.join(run_dir::BEST);
        let (episodes, seed) = (common.eval_episodes, common.seed);
        let done = pending.clone();
        let handle = std::thread::Builder::new()
            .name("engram-eval".into())
            .spawn(move || {
                // Counts the snapshot done however its evaluation ends.
                struct Done(Arc<(Mutex<usize>, Condvar)>);
                impl Drop for Done {
                    fn drop(&mut self) {
                        let (count, changed) = &*self.0;
                        let mut n = super::monitor::lock(count);
                        *n = n.saturating_sub(1);
                        changed.notify_all();
                    }
                }
                for snapshot in rx {
                    let _done = Done(done.clone());
                    let trained = Trained {
                        agent: &*agent,
                        params: &snapshot.params,
                        obs_stats: snapshot.obs_stats.as_ref(),
                    };
                    let result = evaluate(trained, &mut *env, episodes, seed, None, |_, _, _| {})?;
                    let row = EvalRow {
                        env_steps: snapshot.env_steps,
                        wall_seconds: monitor.wall_seconds(),
                        mean_return: result.mean(),
                        std_return: result.std(),
                        episodes: result.returns.len(),
                    };
                    if monitor.record_eval(row.clone()) {
                        let mut at_snapshot = snapshot.monitor.clone();
                        at_snapshot.best_eval = Some(EvalRow {
                            wall_seconds: 0.0,
                            ..row
                        });
                        let state = RunState {
                            monitor: at_snapshot,
                            obs_stats: snapshot.obs_stats.clone(),
                            ..state.clone()
                        };
                        if let Err(e) = save_checkpoint(
                            &best_path,
                            agent.layout(),
                            &snapshot.params,
                            Vec::new(),
                            &state,
                        ) {
                            monitor
                                .progress
                                .println(&format!("warning: best checkpoint not saved: {e}"));
                        }
                    }
                }
                Ok(())
            })
            .map_err(|source| TrainError::Io {
                path: run_dir.to_path_buf(),
                source,
            })?;
        Ok(Evaluator {
            tx: Some(tx),
            handle: Some(handle),
            blocking,
            pending,
        })
    }

    pub fn submit(&self, snapshot: Snapshot) {
        let Some(tx) = &self.tx else {
            return;
        };
        let (count, _) = &*self.pending;
        *super::monitor::lock(count) += 1;
        let sent = if self.blocking {
            tx.send(snapshot).is_ok()
        } else {
            // The evaluator is busy: this evaluation is skipped rather than stalling a worker.
            !matches!(
                tx.try_send(snapshot),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_))
            )
        };
        if !sent {
            let mut n = super::monitor::lock(count);
            *n = n.saturating_sub(1);
        }
    }

    /// In single-threaded (blocking) runs, waits until every submitted snapshot is evaluated,
    /// so that a checkpoint holds their results: a run killed after it and resumed does not
    /// lose an evaluation, and the checkpoint bytes do not depend on the evaluator's timing.
    pub fn settle(&self) {
        let Some(handle) = self.handle.as_ref().filter(|_| self.blocking) else {
            return;
        };
        let (count, changed) = &*self.pending;
        let mut n = super::monitor::lock(count);
        // An evaluator that stopped (its error is reported by `finish`) settles nothing more.
        while *n > 0 && !handle.is_finished() {
            n = changed
                .wait_timeout(n, std::time::Duration::from_millis(50))
                .map(|(n, _)| n)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits for pending evaluations.
    pub fn finish(mut self) -> Result<(), TrainError> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| TrainError::Policy("the evaluator thread panicked".into()))?,
            None => Ok(()),
        }
    }
}
