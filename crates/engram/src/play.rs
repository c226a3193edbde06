//! Loading a trained agent from a checkpoint to play it (`engram eval`, the Python API).

use crate::agent::Act;
use crate::algos::RunConfig;
use crate::error::{CheckpointError, TrainError};
use crate::runtime::checkpoint::{load_params, Checkpoint, RunState};
use crate::runtime::evaluator::{evaluate_range, EvalResult, Trained};
use crate::runtime::run_dir;
use engram_env::wrappers::RunningMeanStd;
use engram_env::{Env, Space};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A checkpoint's agent, ready to play.
pub struct Loaded {
    pub path: PathBuf,
    pub config: RunConfig,
    pub agent: Arc<dyn Act>,
    pub params: Vec<f32>,
    /// The observation statistics it was trained with, when observations were normalised.
    pub obs_stats: Option<RunningMeanStd>,
    /// The environment's spaces, as the agent was built for them.
    pub observation_space: Space,
    pub action_space: Space,
}

impl Loaded {
    /// A fresh environment of the run's id and options.
    pub fn make_env(&self) -> Result<Box<dyn Env>, TrainError> {
        Ok(self.config.common.make_env()?)
    }

    /// Plays `episodes` episodes from the evaluation starts of `seed` (see
    /// [`crate::runtime::evaluator::eval_seed`]), greedily unless `sample_seed` is given.
    pub fn evaluate(
        &self,
        env: &mut dyn Env,
        episodes: usize,
        seed: u64,
        sample_seed: Option<u64>,
        on_step: impl FnMut(&dyn Env, usize, u64),
    ) -> Result<EvalResult, TrainError> {
        self.evaluate_range(env, 0..episodes, seed, sample_seed, on_step)
    }

    /// [`Loaded::evaluate`] of the episodes numbered `episodes` only (the same starts as in a
    /// whole evaluation), so that a caller can play a long evaluation in parts.
    pub fn evaluate_range(
        &self,
        env: &mut dyn Env,
        episodes: std::ops::Range<usize>,
        seed: u64,
        sample_seed: Option<u64>,
        on_step: impl FnMut(&dyn Env, usize, u64),
    ) -> Result<EvalResult, TrainError> {
        let trained = Trained {
            agent: &*self.agent,
            params: &self.params,
            obs_stats: self.obs_stats.as_ref(),
        };
        Ok(evaluate_range(
            trained,
            env,
            episodes,
            seed,
            sample_seed,
            on_step,
        )?)
    }
}

/// The checkpoint a path names: a checkpoint file, or a run directory's best checkpoint
/// (its latest with `latest`, or when it has no best yet).
pub fn resolve_checkpoint(path: &Path, latest: bool) -> Result<PathBuf, TrainError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(TrainError::Usage(format!(
            "{} is neither a run directory nor a checkpoint file",
            path.display()
        )));
    }
    if path.join(run_dir::SEEDS_FILE).exists() {
        let mut seeds: Vec<String> = std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("seed_"))
                    .collect()
            })
            .unwrap_or_default();
        seeds.sort();
        let example = seeds.first().map_or("seed_N", |s| s.as_str());
        return Err(TrainError::Usage(format!(
            "{} holds a multi-seed run (one run directory per seed): evaluate one seed's run,              e.g. `engram eval {}`",
            path.display(),
            path.join(example).display()
        )));
    }
    let best = path.join(run_dir::BEST);
    let last = path.join(run_dir::LATEST);
    let pick = if latest || !best.exists() { last } else { best };
    if pick.exists() {
        Ok(pick)
    } else {
        Err(TrainError::Usage(format!(
            "{} has no checkpoints/ yet (was training started there?)",
            path.display()
        )))
    }
}

/// Loads the agent of a checkpoint (see [`resolve_checkpoint`]).
pub fn load(path: &Path, latest: bool) -> Result<Loaded, TrainError> {
    let path = resolve_checkpoint(path, latest)?;
    let ckpt = Checkpoint::load(&path)?;
    from_checkpoint(&ckpt, path)
}

/// The agent of a checkpoint already read (`path` names it in errors).
pub fn from_checkpoint(ckpt: &Checkpoint, path: PathBuf) -> Result<Loaded, TrainError> {
    let state: RunState =
        serde_json::from_value(ckpt.meta.state.clone()).map_err(|e| CheckpointError::Corrupt {
            path: path.clone(),
            reason: format!("unreadable run state: {e}"),
        })?;
    let config = RunConfig::from_table(state.config, &path.display().to_string())?;
    config.validate()?;
    let probe = config.common.make_env().map_err(|e| {
        if config.common.env.starts_with("python/") {
            TrainError::Usage(format!(
                "{}: this run trained on a Python environment ({}), which only Python has: load \
                 it there with engram.load(path, env=the_env)",
                path.display(),
                config.common.env
            ))
        } else {
            TrainError::from(e)
        }
    })?;
    let agent = config.algo.agent(&config, &*probe)?;
    ckpt.check_architecture(&agent.layout().signature(), &path)?;
    let params = load_params(ckpt, agent.layout(), "", &path)?;
    if let Some(stats) = &state.obs_stats {
        let dim = agent.obs_dim();
        let fits = stats.mean.len() == dim
            && stats.var.len() == dim
            && stats.mean.iter().all(|m| m.is_finite())
            && stats.var.iter().all(|v| v.is_finite() && *v >= 0.0);
        if !fits {
            return Err(CheckpointError::Corrupt {
                path,
                reason: format!(
                    "its observation statistics ({} means, {} variances) do not fit the                      network's {dim} finite observation numbers and non-negative variances",
                    stats.mean.len(),
                    stats.var.len()
                ),
            }
            .into());
        }
    }
    Ok(Loaded {
        path,
        config,
        agent,
        params,
        obs_stats: state.obs_stats,
        observation_space: probe.observation_space().clone(),
        action_space: probe.action_space().clone(),
    })
}
