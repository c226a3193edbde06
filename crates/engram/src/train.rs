//! Starting, resuming and finishing training runs: validate the configuration, check it
//! against the environment's spaces, lay out the run directory, hand a [`Session`] to the
//! algorithm named in the registry, and write `summary.json`.

use crate::algos::RunConfig;
use crate::error::{CheckpointError, TrainError};
use crate::runtime::checkpoint::{Checkpoint, RunState};
use crate::runtime::monitor::EPISODES_CSV;
use crate::runtime::progress::Report;
use crate::runtime::run_dir::{self, Summary};
use crate::runtime::{Monitor, Resume, Session, StopReason};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a run reports while starting (the library prints nothing itself but progress).
pub struct Started {
    pub run_dir: PathBuf,
    /// Spaces of the environment, for the user.
    pub observation_space: String,
    pub action_space: String,
}

/// Trains a new agent. `out`: the run directory (must not hold a run already); default
/// `runs/<env>_<algo>_s<seed>`. `on_start` is called once the run directory exists.
pub fn train(config: RunConfig, out: Option<&Path>, quiet: bool) -> Result<Summary, TrainError> {
    train_with(config, out, quiet, |_| {})
}

/// [`train`], calling `on_start` once the run directory exists.
pub fn train_with(
    config: RunConfig,
    out: Option<&Path>,
    quiet: bool,
    on_start: impl FnOnce(&Started),
) -> Result<Summary, TrainError> {
    train_with_report(config, out, quiet.into(), on_start)
}

/// [`train_with`], reporting progress as `report` says (the multi-seed runner gathers its
/// runs' counters into one line).
pub fn train_with_report(
    config: RunConfig,
    out: Option<&Path>,
    report: Report,
    on_start: impl FnOnce(&Started),
) -> Result<Summary, TrainError> {
    run(open_new(config, out, report, on_start)?)
}

/// A run laid out and ready for its loop: its configuration and the [`Session`] the
/// algorithm receives. A loop driven from outside the library (engram.distributed's learner)
/// opens one with [`open_new`] or [`open_resume`] and ends it with [`close`].
pub struct OpenRun {
    pub config: RunConfig,
    pub session: Session,
}

/// Validates `config`, lays out a new run directory (as [`train_with_report`]) and opens
/// the run.
pub fn open_new(
    config: RunConfig,
    out: Option<&Path>,
    report: Report,
    on_start: impl FnOnce(&Started),
) -> Result<OpenRun, TrainError> {
    config.validate()?;
    let probe = config.common.make_env()?;
    // Settings that only the spaces can refuse (gSDE on discrete actions, normalising
    // discrete observations) fail here, before a run directory exists.
    config.algo.check(&config, &*probe)?;
    let text = config.to_toml()?;
    let run_dir = match out {
        Some(dir) => {
            if dir.join(run_dir::LATEST).exists() {
                return Err(TrainError::Usage(format!(
                    "{} already holds a run: continue it with `engram train --resume {} --steps N` (N: the new total) or choose another --out",
                    dir.display(),
                    dir.display()
                )));
            }
            if dir.join("config.toml").exists() {
                return Err(TrainError::Usage(format!(
                    "{} holds a run that stopped before its first checkpoint (config.toml, no \
                     checkpoints/latest.safetensors): delete the directory to start again, or choose \
                     another --out",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir.join("checkpoints")).map_err(|source| TrainError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            dir.to_path_buf()
        }
        None => run_dir::fresh_run_dir(
            Path::new("runs"),
            &config.common.env,
            &config.common.algo,
            config.common.seed,
        )
        .map_err(|source| TrainError::Io {
            path: PathBuf::from("runs"),
            source,
        })?,
    };
    write_file(&run_dir.join("config.toml"), &text)?;
    on_start(&Started {
        run_dir: run_dir.clone(),
        observation_space: probe.observation_space().to_string(),
        action_space: probe.action_space().to_string(),
    });
    open(config, run_dir, None, 0.0, report)
}

/// Continues the run in `dir` from its latest checkpoint; `overrides` are `--set` assignments
/// (e.g. a larger `total_steps`).
pub fn resume(dir: &Path, overrides: &[String], quiet: bool) -> Result<Summary, TrainError> {
    resume_with_report(dir, overrides, quiet.into())
}

/// [`resume`], reporting progress as `report` says.
pub fn resume_with_report(
    dir: &Path,
    overrides: &[String],
    report: Report,
) -> Result<Summary, TrainError> {
    run(open_resume(dir, overrides, report)?)
}

/// Checks the run in `dir` and its `overrides` (as [`resume_with_report`]) and opens it
/// from its latest checkpoint.
pub fn open_resume(
    dir: &Path,
    overrides: &[String],
    report: Report,
) -> Result<OpenRun, TrainError> {
    let config_path = dir.join("config.toml");
    if !config_path.exists() {
        return Err(TrainError::Usage(format!(
            "{} is not a run directory (no config.toml)",
            dir.display()
        )));
    }
    // The checkpoint first: one written by another version says so before its config is read.
    let ckpt_path = dir.join(run_dir::LATEST);
    let ckpt = Checkpoint::load(&ckpt_path)?;
    let state: RunState =
        serde_json::from_value(ckpt.meta.state.clone()).map_err(|e| CheckpointError::Corrupt {
            path: ckpt_path.clone(),
            reason: format!("unreadable run state: {e}"),
        })?;
    let mut config = RunConfig::from_file(&config_path)?;
    for o in overrides {
        config.set(o)?;
    }
    config.validate()?;
    if state.algo != config.common.algo || state.env != config.common.env {
        return Err(TrainError::Usage(format!(
            "checkpoint is {} on {}, but config.toml says {} on {}",
            state.algo, state.env, config.common.algo, config.common.env
        )));
    }
    // Everything a resume can refuse is checked before config.toml is rewritten, so that a
    // refused `--set` leaves the run as it was.
    let probe = config.common.make_env()?;
    config.algo.check(&config, &*probe)?;
    let agent = config.algo.agent(&config, &*probe)?;
    ckpt.check_architecture(&agent.layout().signature(), &ckpt_path)?;
    for (prefix, kind, _) in &state.optimizers {
        let wanted = config.optim.optimizer().build(1).state().kind;
        if *kind != wanted {
            return Err(TrainError::Usage(format!(
                "the run's optimizer is {kind} (state `{prefix}` in {}), and a resumed run keeps \
                 it: remove --set optimizer=..., or start a new run to change it",
                ckpt_path.display()
            )));
        }
    }
    let text = config.to_toml()?;
    write_file(&config_path, &text)?;
    // A crash leaves rows logged after the last checkpoint, which the resumed run logs again,
    // and the temporary files of interrupted writes.
    let saved_steps = state.monitor.counters.env_steps as f64;
    let saved_episodes = state.monitor.counters.episodes as f64;
    for (file, column, saved) in [
        ("metrics.csv", "env_steps", saved_steps),
        ("evals.csv", "env_steps", saved_steps),
        (EPISODES_CSV, "episode", saved_episodes),
    ] {
        run_dir::truncate_csv_after(&dir.join(file), column, saved).map_err(|source| {
            TrainError::Io {
                path: dir.join(file),
                source,
            }
        })?;
    }
    let episodes_log = dir.join(crate::runtime::monitor_csv::FILE);
    crate::runtime::monitor_csv::truncate(&episodes_log, state.monitor.counters.episodes).map_err(
        |source| TrainError::Io {
            path: episodes_log.clone(),
            source,
        },
    )?;
    run_dir::remove_temp_files(dir);
    // The clock continues from the last time logged: the last metrics row, or a later episode.
    let wall = run_dir::last_csv_value(&dir.join("metrics.csv"), "wall_seconds")
        .unwrap_or(0.0)
        .max(crate::runtime::monitor_csv::last_time(&episodes_log).unwrap_or(0.0));
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
    let resume = Resume {
        checkpoint: ckpt,
        state,
        path: ckpt_path,
    };
    open(config, dir.to_path_buf(), Some(resume), wall, report)
}

fn open(
    config: RunConfig,
    run_dir: PathBuf,
    resume: Option<Resume>,
    wall_offset: f64,
    report: Report,
) -> Result<OpenRun, TrainError> {
    let threshold = config.common.reward_threshold();
    let monitor = Arc::new(
        Monitor::new(
            config.common.clone(),
            threshold,
            &run_dir,
            resume.as_ref().map(|r| r.state.monitor.clone()),
            wall_offset,
            report,
        )
        .map_err(|source| TrainError::Io {
            path: run_dir.clone(),
            source,
        })?,
    );
    let session = Session::new(
        config.common.clone(),
        config.to_table(),
        run_dir,
        monitor,
        resume,
    );
    Ok(OpenRun { config, session })
}

/// Runs the algorithm the configuration names on an opened run.
fn run(opened: OpenRun) -> Result<Summary, TrainError> {
    let OpenRun { config, session } = opened;
    let monitor = session.monitor.clone();
    let run_dir = session.run_dir.clone();
    let stop = config.algo.run(session, &config);
    close(&config, &monitor, &run_dir, stop)
}

/// Ends a run whose loop returned `stop`: flushes the logs and writes `summary.json`.
pub fn close(
    config: &RunConfig,
    monitor: &Monitor,
    run_dir: &Path,
    stop: Result<StopReason, TrainError>,
) -> Result<Summary, TrainError> {
    // The rows buffered since the last log interval, whatever the outcome.
    monitor.flush_logs();
    let stop = stop?;
    monitor.progress.finish();
    let counters = monitor.counters();
    let wall = monitor.wall_seconds();
    let hit = monitor.threshold_hit();
    let best = monitor.best_eval();
    let summary = Summary {
        env: config.common.env.clone(),
        algo: config.common.algo.clone(),
        policy: if config.spec().network {
            config.net.policy.name().into()
        } else {
            "table".into()
        },
        seed: config.common.seed,
        env_steps: counters.env_steps,
        episodes: counters.episodes,
        wall_seconds: wall,
        steps_per_second: counters.env_steps as f64 / wall.max(1e-9),
        best_eval_mean: best.as_ref().map(|b| b.mean_return),
        best_eval_std: best.as_ref().map(|b| b.std_return),
        final_train_mean_return: monitor.mean_return(),
        max_train_mean_return: monitor.max_mean_return(),
        reward_threshold: config.common.reward_threshold(),
        solved: hit.is_some(),
        seconds_to_threshold: hit.map(|h| h.wall_seconds),
        steps_to_threshold: hit.map(|h| h.env_steps),
        stop_reason: stop.as_str().into(),
        engram_version: env!("CARGO_PKG_VERSION").into(),
        run_dir: run_dir.display().to_string(),
    };
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| TrainError::Policy(format!("cannot serialise summary.json: {e}")))?;
    let written = write_file(&run_dir.join("summary.json"), &text);
    if let Some(message) = monitor.failure() {
        // The first failure is the one to report: on a full disk summary.json fails too.
        return Err(TrainError::Policy(match written {
            Ok(()) => message,
            Err(e) => format!("{message} (summary.json could not be written either: {e})"),
        }));
    }
    written?;
    // A picture is a convenience: a run never fails because it could not be drawn. Off per
    // seed under --seeds: drawing and compressing it was three quarters of a bandit run.
    if !config.common.curve_png {
    } else if let Err(e) = crate::plot::write_run_curve(run_dir) {
        monitor
            .progress
            .println(&format!("warning: no {}: {e}", crate::plot::CURVE_PNG));
    }
    Ok(summary)
}

/// Writes one of the run's files atomically; an error names the file.
fn write_file(path: &Path, text: &str) -> Result<(), TrainError> {
    crate::runtime::checkpoint::write_atomic(path, text.as_bytes()).map_err(|source| {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}
