//! Starting, resuming and finishing training runs; what A3C and A2C share around their loops:
//! environment and policy construction, checkpoints, the background evaluator, the summary.

use crate::checkpoint::{Checkpoint, CheckpointError, Meta, Tensor};
use crate::config::{Algo, ConfigError, OptimizerKind, TrainConfig};
use crate::eval::{evaluate, Agent};
use crate::policy::ActorCritic;
use crate::rollout::CollectorState;
use crate::run::{self, EvalRow, Summary};
use crate::runtime::{lock, Monitor, MonitorState, StopReason};
use engram_env::wrappers::RunningMeanStd;
use engram_env::{Env, EnvError, Options};
use engram_nn::optim::{AdamConfig, OptimizerConfig, OptimizerState, RmsPropConfig};
use engram_nn::ParamLayout;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Policy(String),
    #[error("run directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

/// Makes the configured environment (with its registered time limit).
pub fn make_env(config: &TrainConfig) -> Result<Box<dyn Env>, EnvError> {
    let mut options = Options::new();
    options.values = config.env_options_json();
    engram_env::registry::make(&config.env, &options)
}

/// The optimizer the config asks for.
pub fn optimizer_config(c: &TrainConfig) -> OptimizerConfig {
    match c.optimizer {
        // TF/original-A3C style: eps inside the square root, as SB3's RMSpropTFLike.
        OptimizerKind::Rmsprop => OptimizerConfig::RmsProp(RmsPropConfig::tf_like(
            c.rmsprop_alpha as f32,
            c.rmsprop_eps as f32,
        )),
        OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig {
            beta1: c.adam_beta1 as f32,
            beta2: c.adam_beta2 as f32,
            eps: c.adam_eps as f32,
            ..AdamConfig::default()
        }),
    }
}

/// The learning rate at `progress` in [0, 1] of the budget.
pub fn learning_rate(c: &TrainConfig, progress: f64) -> f64 {
    match c.lr_schedule {
        crate::config::LrSchedule::Constant => c.learning_rate,
        crate::config::LrSchedule::Linear => c.learning_rate * (1.0 - progress).max(0.0),
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint contents

/// The algorithm-independent part of the checkpoint metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    pub algo: Algo,
    pub env: String,
    pub config: TrainConfig,
    pub monitor: MonitorState,
    /// Optimizer step counters, by tensor prefix (`optim`, or `optim.w0`, ... per worker).
    pub optimizers: Vec<(String, String, u64)>,
    /// One per worker (A3C) or one for the lockstep envs (A2C); `None` where a worker's state
    /// was not captured (periodic checkpoints of multi-worker A3C).
    pub collectors: Vec<Option<CollectorState>>,
    /// Observation normalisation statistics the policy was trained with (for evaluation).
    #[serde(default)]
    pub obs_stats: Option<RunningMeanStd>,
}

/// Parameters, one tensor per registered name (PyTorch-style names).
pub fn param_tensors(layout: &ParamLayout, params: &[f32]) -> Vec<Tensor> {
    layout
        .specs()
        .iter()
        .map(|s| Tensor {
            name: s.name.clone(),
            shape: s.shape.clone(),
            data: s.slot.of(params).to_vec(),
        })
        .collect()
}

/// Optimizer statistics, one tensor per (buffer, parameter): `optim.exp_avg.lstm.weight_ih`.
pub fn optimizer_tensors(
    prefix: &str,
    layout: &ParamLayout,
    state: &OptimizerState,
) -> Vec<Tensor> {
    let mut out = Vec::new();
    for (buffer, data) in &state.buffers {
        for s in layout.specs() {
            out.push(Tensor {
                name: format!("{prefix}.{buffer}.{}", s.name),
                shape: s.shape.clone(),
                data: s.slot.of(data).to_vec(),
            });
        }
    }
    out
}

fn gather(
    ckpt: &Checkpoint,
    layout: &ParamLayout,
    prefix: &str,
    path: &Path,
) -> Result<Vec<f32>, CheckpointError> {
    let mut flat = layout.zeros();
    for s in layout.specs() {
        let name = if prefix.is_empty() {
            s.name.clone()
        } else {
            format!("{prefix}.{}", s.name)
        };
        let t = ckpt.tensor(&name).ok_or_else(|| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("tensor `{name}` is missing"),
        })?;
        if t.data.len() != s.slot.len() {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor `{name}` has {} values, expected {}",
                    t.data.len(),
                    s.slot.len()
                ),
            });
        }
        s.slot.of_mut(&mut flat).copy_from_slice(&t.data);
    }
    Ok(flat)
}

pub fn load_params(
    ckpt: &Checkpoint,
    layout: &ParamLayout,
    path: &Path,
) -> Result<Vec<f32>, CheckpointError> {
    gather(ckpt, layout, "", path)
}

pub fn load_optimizer(
    ckpt: &Checkpoint,
    layout: &ParamLayout,
    prefix: &str,
    kind: &str,
    step: u64,
    buffer_names: &[String],
    path: &Path,
) -> Result<OptimizerState, CheckpointError> {
    let mut buffers = Vec::new();
    for b in buffer_names {
        buffers.push((
            b.clone(),
            gather(ckpt, layout, &format!("{prefix}.{b}"), path)?,
        ));
    }
    Ok(OptimizerState {
        kind: kind.to_string(),
        step,
        buffers,
    })
}

/// The buffer names an optimizer state has (to know what to read back).
pub fn buffer_names(state: &OptimizerState) -> Vec<String> {
    state.buffers.iter().map(|(n, _)| n.clone()).collect()
}

/// Writes a checkpoint whose parameters are checked to be finite first: a non-finite
/// parameter never overwrites a good checkpoint.
pub fn save_checkpoint(
    path: &Path,
    layout: &ParamLayout,
    params: &[f32],
    extra: Vec<Tensor>,
    state: &RunState,
) -> Result<(), TrainError> {
    if let Some(i) = params.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::Policy(format!(
            "refusing to save a checkpoint with a non-finite parameter (index {i}); the previous checkpoint is kept"
        )));
    }
    let mut tensors = param_tensors(layout, params);
    tensors.extend(extra);
    let meta = Meta::new(
        layout.signature(),
        serde_json::to_value(state)
            .map_err(|e| TrainError::Policy(format!("cannot serialise run state: {e}")))?,
    );
    Checkpoint { tensors, meta }.save(path)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The background evaluator

/// Parameters to evaluate, taken at `env_steps`.
pub struct Snapshot {
    pub env_steps: u64,
    pub params: Vec<f32>,
    /// Observation statistics when observations are normalised (frozen for the evaluation).
    pub obs_stats: Option<RunningMeanStd>,
}

/// Evaluates snapshots on its own thread and keeps the best as `checkpoints/best.safetensors`.
/// Workers hand it snapshots without waiting (a snapshot arriving while one is being evaluated
/// is skipped), except in single-worker runs, where waiting keeps the run deterministic.
pub struct Evaluator {
    tx: Option<SyncSender<Snapshot>>,
    handle: Option<JoinHandle<Result<(), TrainError>>>,
    blocking: bool,
}

impl Evaluator {
    pub fn start(
        config: &TrainConfig,
        policy: Arc<ActorCritic>,
        monitor: Arc<Monitor>,
        run_dir: &Path,
        blocking: bool,
    ) -> Result<Evaluator, TrainError> {
        if config.eval_interval == 0 {
            return Ok(Evaluator {
                tx: None,
                handle: None,
                blocking,
            });
        }
        let mut env = make_env(config)?;
        let (tx, rx): (SyncSender<Snapshot>, Receiver<Snapshot>) = sync_channel(1);
        let best_path = run_dir.join(run::BEST);
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name("engram-eval".into())
            .spawn(move || {
                for snapshot in rx {
                    let agent = Agent {
                        policy: &policy,
                        params: &snapshot.params,
                        obs_stats: snapshot.obs_stats.as_ref(),
                    };
                    let result = evaluate(
                        agent,
                        &mut *env,
                        config.eval_episodes,
                        config.seed,
                        None,
                        |_, _, _| {},
                    )?;
                    let row = EvalRow {
                        env_steps: snapshot.env_steps,
                        wall_seconds: monitor.wall_seconds(),
                        mean_return: result.mean(),
                        std_return: result.std(),
                        episodes: result.returns.len(),
                    };
                    if monitor.record_eval(row) {
                        let state = RunState {
                            algo: config.algo,
                            env: config.env.clone(),
                            config: config.clone(),
                            monitor: monitor.state(),
                            optimizers: Vec::new(),
                            collectors: Vec::new(),
                            obs_stats: snapshot.obs_stats.clone(),
                        };
                        if let Err(e) = save_checkpoint(
                            &best_path,
                            &policy.layout,
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
        })
    }

    pub fn submit(&self, snapshot: Snapshot) {
        if let Some(tx) = &self.tx {
            if self.blocking {
                let _ = tx.send(snapshot);
            } else if let Err(TrySendError::Full(_)) = tx.try_send(snapshot) {
                // The evaluator is busy: this evaluation is skipped rather than stalling a worker.
            }
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

// ---------------------------------------------------------------------------------------------
// Starting and finishing runs

/// Everything an algorithm's loop needs.
pub struct Setup {
    pub config: TrainConfig,
    pub run_dir: PathBuf,
    pub policy: Arc<ActorCritic>,
    pub monitor: Arc<Monitor>,
    pub resume: Option<(Checkpoint, RunState, PathBuf)>,
}

/// Trains a new agent. `out`: the run directory (must not hold a run already).
pub fn train(config: TrainConfig, out: Option<&Path>, quiet: bool) -> Result<Summary, TrainError> {
    config.validate()?;
    let probe = make_env(&config)?;
    // Settings that only the spaces can refuse (gSDE on discrete actions, normalising
    // discrete observations) fail here, before a run directory exists.
    let policy = build_policy(&config, &*probe)?;
    let threads = crate::config::default_workers();
    if config.algo == Algo::A3c && config.workers > threads && !quiet {
        eprintln!(
            "warning: {} workers on {threads} available cores: workers will share cores and each runs slower",
            config.workers
        );
    }
    let run_dir = match out {
        Some(dir) => {
            if dir.join(run::LATEST).exists() {
                return Err(TrainError::Usage(format!(
                    "{} already holds a run: continue it with `engram train --resume {}` or choose another --out",
                    dir.display(),
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir.join("checkpoints")).map_err(|source| TrainError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            dir.to_path_buf()
        }
        None => run::fresh_run_dir(
            Path::new("runs"),
            &config.env,
            config.algo.name(),
            config.seed,
        )
        .map_err(|source| TrainError::Io {
            path: PathBuf::from("runs"),
            source,
        })?,
    };
    std::fs::write(run_dir.join("config.toml"), config.to_toml()).map_err(|source| {
        TrainError::Io {
            path: run_dir.clone(),
            source,
        }
    })?;
    if !quiet {
        eprintln!(
            "engram {}: training {} on {} -> {}",
            env!("CARGO_PKG_VERSION"),
            config.algo,
            config.env,
            run_dir.display()
        );
        eprintln!(
            "observation space {}, action space {}",
            probe.observation_space(),
            probe.action_space()
        );
        eprintln!("hyper-parameters:\n{}", indent(&config.to_toml()));
    }
    run_with(config, policy, run_dir, None, 0.0, quiet)
}

/// Continues the run in `dir` from its latest checkpoint; `overrides` are `--set` assignments
/// (e.g. a larger `total_steps`).
pub fn resume(dir: &Path, overrides: &[String], quiet: bool) -> Result<Summary, TrainError> {
    let config_path = dir.join("config.toml");
    if !config_path.exists() {
        return Err(TrainError::Usage(format!(
            "{} is not a run directory (no config.toml)",
            dir.display()
        )));
    }
    let mut config = TrainConfig::from_file(&config_path)?;
    for o in overrides {
        config.set(o)?;
    }
    config.validate()?;
    let ckpt_path = dir.join(run::LATEST);
    let ckpt = Checkpoint::load(&ckpt_path)?;
    let state: RunState =
        serde_json::from_value(ckpt.meta.state.clone()).map_err(|e| CheckpointError::Corrupt {
            path: ckpt_path.clone(),
            reason: format!("unreadable run state: {e}"),
        })?;
    if state.algo != config.algo || state.env != config.env {
        return Err(TrainError::Usage(format!(
            "checkpoint is {} on {}, but config.toml says {} on {}",
            state.algo, state.env, config.algo, config.env
        )));
    }
    std::fs::write(&config_path, config.to_toml()).map_err(|source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let wall = run::last_csv_value(&dir.join("metrics.csv"), "wall_seconds").unwrap_or(0.0);
    let mut state = state;
    if let Some(hit) = &mut state.monitor.threshold_hit {
        // Checkpoints hold no wall-clock times: take it from the previous summary.
        let previous: Option<Summary> = std::fs::read(dir.join("summary.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        hit.wall_seconds = previous
            .filter(|s| s.steps_to_threshold == Some(hit.env_steps))
            .and_then(|s| s.seconds_to_threshold)
            .unwrap_or(wall);
    }
    let policy = build_policy(&config, &*make_env(&config)?)?;
    if !quiet {
        eprintln!(
            "engram {}: resuming {} on {} in {} at {} env steps",
            env!("CARGO_PKG_VERSION"),
            config.algo,
            config.env,
            dir.display(),
            state.monitor.counters.env_steps
        );
    }
    run_with(
        config,
        policy,
        dir.to_path_buf(),
        Some((ckpt, state, ckpt_path)),
        wall,
        quiet,
    )
}

/// The actor-critic for `config` on `probe`'s spaces, after the checks only the spaces allow.
fn build_policy(config: &TrainConfig, probe: &dyn Env) -> Result<ActorCritic, TrainError> {
    let policy = ActorCritic::new(probe.observation_space(), probe.action_space(), config)?;
    check_normalization(config, probe.observation_space())?;
    Ok(policy)
}

fn run_with(
    config: TrainConfig,
    policy: ActorCritic,
    run_dir: PathBuf,
    resume: Option<(Checkpoint, RunState, PathBuf)>,
    wall_offset: f64,
    quiet: bool,
) -> Result<Summary, TrainError> {
    let policy = Arc::new(policy);
    if let Some((ckpt, _, path)) = &resume {
        ckpt.check_architecture(&policy.layout.signature(), path)?;
    }
    let threshold = engram_env::registry::spec(&config.env)
        .ok()
        .and_then(|s| s.reward_threshold);
    let monitor = Arc::new(
        Monitor::new(
            config.clone(),
            threshold,
            &run_dir,
            resume.as_ref().map(|r| r.1.monitor.clone()),
            wall_offset,
            quiet,
        )
        .map_err(|source| TrainError::Io {
            path: run_dir.clone(),
            source,
        })?,
    );
    let _ = crate::progress::stop_requested();
    let setup = Setup {
        config: config.clone(),
        run_dir: run_dir.clone(),
        policy,
        monitor: monitor.clone(),
        resume,
    };
    let stop = match config.algo {
        Algo::A3c => crate::a3c::run(setup)?,
        Algo::A2c => crate::a3c::run_a2c(setup)?,
        Algo::Ppo => crate::ppo::run(setup)?,
        Algo::Reinforce => crate::reinforce::run(setup)?,
    };
    monitor.progress.finish();
    let counters = monitor.counters();
    let wall = monitor.wall_seconds();
    let hit = monitor.threshold_hit();
    let best = monitor.best_eval();
    let summary = Summary {
        env: config.env.clone(),
        algo: config.algo.name().into(),
        policy: format!("{:?}", config.policy).to_lowercase(),
        seed: config.seed,
        workers: config.workers,
        env_steps: counters.env_steps,
        episodes: counters.episodes,
        wall_seconds: wall,
        steps_per_second: counters.env_steps as f64 / wall.max(1e-9),
        best_eval_mean: best.as_ref().map(|b| b.mean_return),
        best_eval_std: best.as_ref().map(|b| b.std_return),
        final_train_mean_return: monitor.mean_return(),
        max_train_mean_return: monitor.max_mean_return(),
        reward_threshold: threshold,
        solved: hit.is_some(),
        seconds_to_threshold: hit.map(|h| h.wall_seconds),
        steps_to_threshold: hit.map(|h| h.env_steps),
        stop_reason: stop.as_str().into(),
        engram_version: env!("CARGO_PKG_VERSION").into(),
    };
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    crate::checkpoint::write_atomic(&run_dir.join("summary.json"), text.as_bytes())?;
    if let Some(message) = monitor.failure() {
        return Err(TrainError::Policy(message));
    }
    if !quiet {
        eprintln!(
            "done ({}): {} env steps in {:.1}s ({:.0} steps/s), return(100) {}, solved: {}{}",
            summary.stop_reason,
            summary.env_steps,
            summary.wall_seconds,
            summary.steps_per_second,
            summary
                .final_train_mean_return
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            summary.solved,
            summary
                .seconds_to_threshold
                .map(|s| format!(" after {s:.2}s"))
                .unwrap_or_default()
        );
        eprintln!("run directory: {}", run_dir.display());
    }
    Ok(summary)
}

/// Normalisation applies to Box observations, and runs through the lockstep collector.
fn check_normalization(
    config: &TrainConfig,
    obs_space: &engram_env::Space,
) -> Result<(), TrainError> {
    if config.normalize_observations && !matches!(obs_space, engram_env::Space::Box { .. }) {
        return Err(TrainError::Usage(format!(
            "normalize_observations needs a Box observation space; {} has {obs_space}, whose discrete \
             parts are one-hot encoded (or embedded) instead: leave normalize_observations off",
            config.env
        )));
    }
    if config.algo == Algo::Reinforce && (config.normalize_observations || config.normalize_rewards)
    {
        return Err(TrainError::Usage(
            "reinforce does not normalise observations or rewards yet: use a2c or ppo, or turn \
             normalize_observations / normalize_rewards off"
                .into(),
        ));
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Checks a finished update for NaN/inf; on failure tells the monitor (which stops every
/// worker) and returns false so the update is not applied.
pub fn update_is_finite(monitor: &Monitor, loss: f64, grad_norm: f64, env_steps: u64) -> bool {
    if loss.is_finite() && grad_norm.is_finite() {
        return true;
    }
    monitor.fail(format!(
        "non-finite loss ({loss}) or gradient norm ({grad_norm}) at {env_steps} env steps: training stopped, \
         the last good checkpoint is kept. Try a lower learning_rate or max_grad_norm"
    ));
    false
}

/// A stop reason after the loop: a failure wins over everything.
pub fn final_reason(monitor: &Monitor) -> StopReason {
    monitor.should_stop().unwrap_or(StopReason::Budget)
}

/// Shared storage for worker states captured at checkpoints.
pub type CollectorSlots = Arc<Mutex<Vec<Option<CollectorState>>>>;

pub fn collector_slots(n: usize, resumed: Option<&RunState>) -> CollectorSlots {
    let mut v = vec![None; n];
    if let Some(state) = resumed {
        for (slot, saved) in v.iter_mut().zip(&state.collectors) {
            slot.clone_from(saved);
        }
    }
    Arc::new(Mutex::new(v))
}

pub fn slots_snapshot(slots: &CollectorSlots) -> Vec<Option<CollectorState>> {
    lock(slots).clone()
}
