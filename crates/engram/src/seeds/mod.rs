//! Many seeds at once: `engram train ... --seeds 0-99` trains one run per seed, in parallel
//! on the available cores, each in `OUT/seed_N/` (an ordinary run directory: `engram eval`
//! and `engram train --resume` take it), then writes `OUT/curves.csv` ([`curves`]) and
//! `OUT/seeds_summary.json`.
//!
//! ```text
//! OUT/
//!   seeds.toml           the seeds and the configuration they share (read back by --resume OUT)
//!   seed_0/ seed_1/ ...  one run directory per seed
//!   curves.csv           mean and standard error across seeds, per env step or per episode
//!   seeds_summary.json   each seed's outcome and the final returns across seeds
//! ```
//!
//! **Pool.** A fixed number of runs at a time (`jobs`: the available cores divided by the
//! threads one run keeps busy, A3C's `workers`), each on a pool thread that takes the next
//! seed when its run ends: no thread per run, no progress bar per run, one aggregate line.
//! New files are made durable by one `syncfs` a second instead of two fsyncs each
//! ([`DeferredSync`]), which would otherwise dominate thousands of short runs.
//!
//! **Logging.** Each seed's run directory is an ordinary one (`metrics.csv`, `summary.json`,
//! checkpoints), but the CLI turns TensorBoard events, `curve.png` and, with a step budget,
//! the per-episode files (`episode_logs`: `monitor.csv`, `episodes.csv`) off for `--seeds`
//! runs unless set explicitly: `curves.csv` (and `OUT/curve.png`) is the multi-seed result;
//! an event file per seed cost a fifth of a short run, a picture per seed three quarters of a
//! bandit run, the episode rows (a bandit ends one per pull) a good part of the rest.
//!
//! **Curves.** Fresh seeds on a step axis hand their metrics rows over in memory as they end
//! ([`curves::MemoryCurves`]: the same bytes as reading the files back, which a 2,000-seed
//! bandit figure spent a fifth of its time on); resumed seeds and uneven grids are read from
//! the files.
//!
//! **Stopping.** Ctrl-C stops every running seed as it stops one run (each saves its
//! checkpoint) and starts no new one; `engram train --resume OUT` continues: it resumes the
//! seeds that have a checkpoint and did not finish, and starts those that had none.

pub mod curves;
pub mod list;

use crate::algos::RunConfig;
use crate::error::TrainError;
use crate::runtime::checkpoint::{write_atomic, DeferredSync};
use crate::runtime::metrics::LoggedRows;
use crate::runtime::progress::{stop_flag, LiveCounters, Report};
use crate::runtime::run_dir::{self, Summary};
use crate::train;
use curves::{Axis, MemoryCurves};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use list::{format_seeds, parse_seeds, MAX_SEEDS};

pub use run_dir::SEEDS_FILE;
pub const SUMMARY_FILE: &str = "seeds_summary.json";

/// `seeds.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedsFile {
    /// The seeds, as `--seeds` spells them (`0-4,10-12`).
    seeds: String,
    /// The configuration every seed shares (its `seed` key is the seed's).
    config: toml::Table,
}

/// How a multi-seed run goes.
#[derive(Clone, Debug, Default)]
pub struct SeedsOptions {
    /// Runs at a time (default: the available cores / the threads one run keeps busy).
    pub jobs: Option<usize>,
    /// No progress line.
    pub quiet: bool,
}

/// One seed's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedOutcome {
    pub seed: u64,
    pub run_dir: String,
    /// `trained`, `resumed`, `finished before` (a resume left it alone), `not started`
    /// (stopped first), `failed`.
    pub status: String,
    pub summary: Option<Summary>,
    /// The error of a failed seed.
    pub error: Option<String>,
    /// The last periodic evaluation's mean return (`evals.csv`).
    pub final_eval_mean: Option<f64>,
}

/// Mean and standard error across seeds (the standard error needs two seeds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AcrossSeeds {
    pub seeds: u64,
    pub mean: Option<f64>,
    pub stderr: Option<f64>,
}

impl AcrossSeeds {
    fn of(values: impl Iterator<Item = f64>) -> AcrossSeeds {
        let mut m = curves::Moments::default();
        values.for_each(|v| m.push(v));
        AcrossSeeds {
            seeds: m.n,
            mean: (m.n > 0).then_some(m.mean),
            stderr: m.stderr(),
        }
    }
}

/// `seeds_summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedsSummary {
    pub out: String,
    pub algo: String,
    pub env: String,
    pub seeds: String,
    /// Runs that ran at a time.
    pub jobs: usize,
    pub wall_seconds: f64,
    /// Seeds whose runs reached their budget or threshold.
    pub finished: usize,
    pub interrupted: usize,
    pub failed: usize,
    pub not_started: usize,
    /// The last periodic evaluation of each seed that has one.
    pub final_eval: AcrossSeeds,
    /// The 100-episode training mean at the end of each seed's run.
    pub final_train_return: AcrossSeeds,
    /// `curves.csv`'s rows: per `env_steps` or per `episode`.
    pub curves_axis: String,
    pub runs: Vec<SeedOutcome>,
}

/// Whether `dir` holds a multi-seed run.
pub fn is_seeds_dir(dir: &Path) -> bool {
    dir.join(SEEDS_FILE).is_file()
}

/// The run directory of `seed` in `out`.
pub fn seed_dir(out: &Path, seed: u64) -> PathBuf {
    out.join(format!("seed_{seed}"))
}

/// What a seed's turn in the pool does.
enum Task {
    Train(Box<RunConfig>),
    Resume(Vec<String>),
}

/// Trains one run per seed of `seeds` in `out` (default `runs/<env>_<algo>_seeds`), which
/// must not hold a run. `on_start` is called with the directory once it exists.
pub fn train_seeds(
    config: RunConfig,
    seeds: &[u64],
    out: Option<&Path>,
    options: &SeedsOptions,
    on_start: impl FnOnce(&Path, usize),
) -> Result<SeedsSummary, TrainError> {
    if seeds.is_empty() {
        return Err(TrainError::Usage("--seeds names no seed".into()));
    }
    // Everything the runs would refuse is refused once, before any directory exists.
    config.validate()?;
    refuse_episode_curves_without_logs(&config)?;
    let probe = config.common.make_env()?;
    config.algo.check(&config, &*probe)?;
    let out = match out {
        Some(dir) => {
            refuse_taken(dir)?;
            std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
            dir.to_path_buf()
        }
        None => {
            let stem = format!(
                "{}_{}_seeds",
                config.common.env.replace(['/', ' '], "_"),
                config.common.algo
            );
            run_dir::fresh_dir(Path::new("runs"), &stem)
                .map_err(|source| io(Path::new("runs"), source))?
        }
    };
    let mut table = config.to_table();
    table.remove("seed");
    let file = SeedsFile {
        seeds: format_seeds(seeds),
        config: table,
    };
    write_seeds_file(&out, &file)?;
    let jobs = jobs_for(&config, options, seeds.len());
    on_start(&out, jobs);
    let tasks = seeds
        .iter()
        .map(|&seed| {
            let mut c = config.clone();
            c.common.seed = seed;
            (seed, Task::Train(Box::new(c)))
        })
        .collect();
    run_all(&out, &config, tasks, Vec::new(), jobs, options)
}

/// Continues the multi-seed run in `out`: resumes the seeds that have a checkpoint and did not
/// reach their budget, starts those without one, and leaves finished ones (with a larger
/// budget in `overrides`, e.g. `total_steps=N`, they are resumed too).
pub fn resume_seeds(
    out: &Path,
    overrides: &[String],
    options: &SeedsOptions,
    on_start: impl FnOnce(&Path, usize),
) -> Result<SeedsSummary, TrainError> {
    let path = out.join(SEEDS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
    let mut file: SeedsFile = toml::from_str(&text).map_err(|e| {
        TrainError::Usage(format!("{} is damaged ({}): resume the seed directories one by one with `engram train --resume {}/seed_N`", path.display(), e.message(), out.display()))
    })?;
    let seeds = parse_seeds(&file.seeds)?;
    let mut config = RunConfig::from_table(file.config.clone(), &path.display().to_string())?;
    for o in overrides {
        if o.trim_start().starts_with("seed=") || o.trim_start().starts_with("seed ") {
            return Err(TrainError::Usage(
                "a multi-seed run keeps its seeds: remove --set seed=...".into(),
            ));
        }
        config.set(o)?;
    }
    config.validate()?;
    refuse_episode_curves_without_logs(&config)?;
    let mut done_before = Vec::new();
    let mut tasks = Vec::new();
    for &seed in &seeds {
        let dir = seed_dir(out, seed);
        if dir.join(run_dir::LATEST).exists() {
            if finished(&dir, &config) {
                done_before.push(seed);
            } else {
                tasks.push((seed, Task::Resume(overrides.to_vec())));
            }
        } else {
            // Stopped before its first checkpoint (or never started): nothing to continue.
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|source| io(&dir, source))?;
            }
            let mut c = config.clone();
            c.common.seed = seed;
            tasks.push((seed, Task::Train(Box::new(c))));
        }
    }
    let reported = out.join(curves::CURVES_CSV).exists() && out.join(SUMMARY_FILE).exists();
    if tasks.is_empty() && reported {
        return Err(TrainError::Usage(format!(
            "every seed in {} has done its budget: give a larger total to continue, e.g. \
             --steps {} (or --set total_episodes=N)",
            out.display(),
            config.common.total_steps.saturating_mul(2)
        )));
    }
    let mut table = config.to_table();
    table.remove("seed");
    file.config = table;
    write_seeds_file(out, &file)?;
    let jobs = jobs_for(&config, options, tasks.len());
    on_start(out, jobs);
    run_all(out, &config, tasks, done_before, jobs, options)
}

/// Curves per episode are read from the seeds' `episodes.csv`.
fn refuse_episode_curves_without_logs(config: &RunConfig) -> Result<(), TrainError> {
    if config.common.total_episodes.is_some() && !config.common.episode_logs {
        return Err(TrainError::Usage(
            "an episode budget makes curves.csv per episode, from each seed's episodes.csv: \
             remove episode_logs=false (or give a step budget instead of total_episodes)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether the seed's run reached its budget (as `config` sets it now) or its threshold.
fn finished(dir: &Path, config: &RunConfig) -> bool {
    let Some(summary) = read_summary(dir) else {
        return false;
    };
    match summary.stop_reason.as_str() {
        "threshold" => true,
        "budget" => {
            summary.env_steps >= config.common.total_steps
                || config
                    .common
                    .total_episodes
                    .is_some_and(|total| summary.episodes >= total)
        }
        _ => false,
    }
}

fn read_summary(dir: &Path) -> Option<Summary> {
    std::fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Refuses an `--out` that holds a run already.
fn refuse_taken(dir: &Path) -> Result<(), TrainError> {
    let d = dir.display();
    if is_seeds_dir(dir) {
        return Err(TrainError::Usage(format!(
            "{d} already holds a multi-seed run: continue it with `engram train --resume {d}` \
             (--steps N for a larger budget), or choose another --out"
        )));
    }
    if dir.join("config.toml").exists() || dir.join(run_dir::LATEST).exists() {
        return Err(TrainError::Usage(format!(
            "{d} holds a single run, not a multi-seed one: choose another --out for --seeds \
             (`engram train --resume {d}` continues that run)"
        )));
    }
    Ok(())
}

fn write_seeds_file(out: &Path, file: &SeedsFile) -> Result<(), TrainError> {
    let text = toml::to_string(file)
        .map_err(|e| TrainError::Policy(format!("cannot write {SEEDS_FILE}: {e}")))?;
    let path = out.join(SEEDS_FILE);
    let text = format!(
        "# A multi-seed run: one run directory per seed (seed_N/). `engram train --resume {}` \
         continues it.\n{text}",
        out.display()
    );
    write_atomic(&path, text.as_bytes()).map_err(|source| io(&path, source))
}

/// Runs at a time: `jobs`, else the available cores over the threads one run keeps busy.
fn jobs_for(config: &RunConfig, options: &SeedsOptions, tasks: usize) -> usize {
    let jobs = options
        .jobs
        .unwrap_or_else(|| crate::algos::available_cores() / config.algo.threads().max(1));
    jobs.clamp(1, tasks.max(1))
}

fn io(path: &Path, source: std::io::Error) -> TrainError {
    TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `tasks` on `jobs` pool threads, then writes the curves and the summary.
fn run_all(
    out: &Path,
    config: &RunConfig,
    tasks: Vec<(u64, Task)>,
    done_before: Vec<u64>,
    jobs: usize,
    options: &SeedsOptions,
) -> Result<SeedsSummary, TrainError> {
    let started = Instant::now();
    let sync = DeferredSync::start(out);
    let live: Vec<Arc<LiveCounters>> = tasks.iter().map(|_| Arc::default()).collect();
    let results: Mutex<Vec<Option<SeedOutcome>>> = Mutex::new(vec![None; tasks.len()]);
    let next = AtomicUsize::new(0);
    let finished_runs = AtomicUsize::new(0);
    // Pool threads still working: the progress line ends when none is.
    let alive = AtomicUsize::new(0);
    let progress = SeedsProgress::new(config, tasks.len(), options.quiet);
    let axis = if config.common.total_episodes.is_some() {
        Axis::Episodes
    } else {
        Axis::Steps
    };
    let curve_threads = jobs.max(crate::algos::available_cores());
    // Fresh seeds on a step axis: their rows are averaged as they finish, in memory.
    let memory = (axis == Axis::Steps
        && done_before.is_empty()
        && tasks.iter().all(|(_, t)| matches!(t, Task::Train(_))))
    .then(|| Mutex::new(MemoryCurves::new(tasks.len(), curve_threads)));
    let positions: Vec<usize> = {
        let mut order: Vec<usize> = (0..tasks.len()).collect();
        order.sort_by_key(|&i| tasks[i].0);
        let mut positions = vec![0; tasks.len()];
        for (position, &i) in order.iter().enumerate() {
            positions[i] = position;
        }
        positions
    };
    std::thread::scope(|scope| {
        for j in 0..jobs {
            let (tasks, live, results, next, finished_runs, alive) =
                (&tasks, &live, &results, &next, &finished_runs, &alive);
            let (memory, positions) = (&memory, &positions);
            alive.fetch_add(1, Ordering::SeqCst);
            let spawned = std::thread::Builder::new()
                .name(format!("engram-seeds-{j}"))
                .spawn_scoped(scope, move || {
                    let _leaving = Leaving(alive);
                    loop {
                        // Ctrl-C: the running seeds save and stop; no new one starts.
                        if stop_flag().load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((seed, task)) = tasks.get(i) else {
                            break;
                        };
                        if memory.is_some() {
                            *crate::runtime::lock(&live[i].rows) = Some(LoggedRows::default());
                        }
                        let outcome = run_one(out, *seed, task, live[i].clone());
                        if let Some(memory) = memory {
                            let rows = crate::runtime::lock(&live[i].rows).take();
                            let usable = outcome.error.is_none() && outcome.summary.is_some();
                            crate::runtime::lock(memory).add(positions[i], rows.filter(|_| usable));
                        }
                        crate::runtime::lock(results)[i] = Some(outcome);
                        finished_runs.fetch_add(1, Ordering::Relaxed);
                    }
                });
            if spawned.is_err() {
                // Fewer pool threads than asked: the others take the seeds.
                alive.fetch_sub(1, Ordering::SeqCst);
                break;
            }
        }
        progress.watch(&live, &finished_runs, &alive, tasks.len());
    });
    progress.finish();
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut runs: Vec<SeedOutcome> = tasks
        .iter()
        .zip(results)
        .map(|((seed, _), r)| {
            r.unwrap_or_else(|| SeedOutcome {
                seed: *seed,
                run_dir: seed_dir(out, *seed).display().to_string(),
                status: "not started".into(),
                summary: None,
                error: None,
                final_eval_mean: None,
            })
        })
        .collect();
    for seed in done_before {
        let dir = seed_dir(out, seed);
        runs.push(SeedOutcome {
            seed,
            run_dir: dir.display().to_string(),
            status: "finished before".into(),
            summary: read_summary(&dir),
            error: None,
            final_eval_mean: last_eval(&dir),
        });
    }
    runs.sort_by_key(|r| r.seed);
    let dirs: Vec<PathBuf> = runs
        .iter()
        .map(|r| PathBuf::from(&r.run_dir))
        .filter(|d| d.exists())
        .collect();
    let in_memory = memory
        .and_then(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).finish())
        .filter(|_| dirs.len() == tasks.len());
    match in_memory {
        Some(curves) => curves::write_curves_csv(out, &curves),
        None => curves::write_curves(out, &dirs, axis, curve_threads),
    }
    .map_err(|source| io(&out.join(curves::CURVES_CSV), source))?;
    // A picture is a convenience: the seeds never fail because it could not be drawn.
    if let Err(e) = crate::plot::write_run_curve(out) {
        if !options.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "warning: no {}: {e}",
                crate::plot::CURVE_PNG
            );
        }
    }
    let count = |f: &dyn Fn(&SeedOutcome) -> bool| runs.iter().filter(|r| f(r)).count();
    let stop = |r: &SeedOutcome| r.summary.as_ref().map(|s| s.stop_reason.clone());
    let summary = SeedsSummary {
        out: out.display().to_string(),
        algo: config.common.algo.clone(),
        env: config.common.env.clone(),
        seeds: format_seeds(&runs.iter().map(|r| r.seed).collect::<Vec<_>>()),
        jobs,
        wall_seconds: started.elapsed().as_secs_f64(),
        finished: count(&|r| {
            matches!(stop(r).as_deref(), Some("budget" | "threshold")) && r.error.is_none()
        }),
        interrupted: count(&|r| stop(r).as_deref() == Some("interrupted")),
        failed: count(&|r| r.error.is_some() || stop(r).as_deref() == Some("failed")),
        not_started: count(&|r| r.status == "not started"),
        final_eval: AcrossSeeds::of(runs.iter().filter_map(|r| r.final_eval_mean)),
        final_train_return: AcrossSeeds::of(
            runs.iter()
                .filter_map(|r| r.summary.as_ref()?.final_train_mean_return),
        ),
        curves_axis: axis.index_column().into(),
        runs,
    };
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| TrainError::Policy(format!("cannot serialise {SUMMARY_FILE}: {e}")))?;
    let path = out.join(SUMMARY_FILE);
    write_atomic(&path, text.as_bytes()).map_err(|source| io(&path, source))?;
    drop(sync);
    Ok(summary)
}

/// One seed's run; a failure (or a panic, which is a bug) is its outcome, not the pool's.
fn run_one(out: &Path, seed: u64, task: &Task, live: Arc<LiveCounters>) -> SeedOutcome {
    let dir = seed_dir(out, seed);
    let report = Report::Live(live.clone());
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match task {
        Task::Train(config) => {
            train::train_with_report((**config).clone(), Some(&dir), report, |_| {})
        }
        Task::Resume(overrides) => train::resume_with_report(&dir, overrides, report),
    }));
    let (summary, error) = match run {
        Ok(Ok(summary)) => {
            // The final counters (rows are logged at intervals, not at the end).
            live.env_steps.store(summary.env_steps, Ordering::Relaxed);
            live.episodes.store(summary.episodes, Ordering::Relaxed);
            (Some(summary), None)
        }
        Ok(Err(e)) => (read_summary(&dir), Some(e.to_string())),
        Err(_) => (
            None,
            Some("stopped on an internal error, a bug: please report it".to_string()),
        ),
    };
    let status = match (&error, task) {
        (Some(_), _) => "failed",
        (None, Task::Train(_)) => "trained",
        (None, Task::Resume(_)) => "resumed",
    };
    SeedOutcome {
        seed,
        run_dir: dir.display().to_string(),
        status: status.into(),
        final_eval_mean: last_eval(&dir),
        summary,
        error,
    }
}

/// The mean return of a run's last periodic evaluation.
fn last_eval(dir: &Path) -> Option<f64> {
    run_dir::last_csv_value(&dir.join("evals.csv"), "mean_return")
}

/// Counts a pool thread out however it ends.
struct Leaving<'a>(&'a AtomicUsize);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A line on stderr; a closed stderr is ignored (the runs go on and save).
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One progress line for all the seeds: a bar on a terminal, a plain line at most every
/// ten seconds elsewhere, nothing when quiet.
struct SeedsProgress {
    bar: Option<ProgressBar>,
    plain: bool,
    /// Per seed: the budget, and whether it counts episodes.
    budget: u64,
    episodes: bool,
}

impl SeedsProgress {
    fn new(config: &RunConfig, runs: usize, quiet: bool) -> SeedsProgress {
        let (budget, episodes) = match config.common.total_episodes {
            Some(e) => (e, true),
            None => (config.common.total_steps, false),
        };
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let unit = if episodes { "episodes" } else { "steps" };
            let bar = ProgressBar::new(budget.saturating_mul(runs as u64));
            bar.set_style(
                ProgressStyle::with_template(&crate::runtime::progress::bar_template(unit))
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        SeedsProgress {
            bar,
            plain: !quiet && !terminal,
            budget,
            episodes,
        }
    }

    /// Reports until no pool thread is left.
    fn watch(
        &self,
        live: &[Arc<LiveCounters>],
        finished: &AtomicUsize,
        alive: &AtomicUsize,
        total: usize,
    ) {
        let started = Instant::now();
        let mut last_line: Option<Instant> = None;
        loop {
            let running = alive.load(Ordering::SeqCst) > 0;
            let done = finished.load(Ordering::Relaxed);
            let position: u64 = live
                .iter()
                .map(|c| {
                    let v = if self.episodes {
                        c.episodes.load(Ordering::Relaxed)
                    } else {
                        c.env_steps.load(Ordering::Relaxed)
                    };
                    v.min(self.budget)
                })
                .sum();
            if let Some(bar) = &self.bar {
                bar.set_position(position);
                bar.set_message(format!("seeds done {done}/{total}"));
            } else if self.plain
                && (!running || last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)))
            {
                let unit = if self.episodes {
                    "episodes"
                } else {
                    "env steps"
                };
                note(&format!(
                    "seeds done {done:>6}/{total}  {unit} {position}/{}  time {:.1}s",
                    self.budget.saturating_mul(total as u64),
                    started.elapsed().as_secs_f64()
                ));
                last_line = Some(Instant::now());
            }
            if !running {
                return;
            }
            std::thread::sleep(Duration::from_millis(if self.bar.is_some() {
                100
            } else {
                10
            }));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
