//! What every training run shares, whatever the algorithm: counters, the episode window and the
//! solved-threshold bookkeeping, metrics rows, progress, stop requests and failures.
//!
//! A3C's workers share one [`Monitor`] through an `Arc`, like every other loop. Counters are
//! atomics (they are bumped once per update); the rarely touched rest sits behind mutexes.

use super::metrics::{
    push_metric, push_u64, EpisodeWindow, EvalRow, Metric, MetricsRow, MetricsSum,
};
use super::monitor_csv::{self, MonitorCsv};
use super::progress::{stop_flag, Progress, Report};
use super::run_dir::CsvLog;
use super::tensorboard::{self, EventWriter};
use crate::config::CommonConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Counters that a checkpoint carries over to a resumed run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub env_steps: u64,
    pub episodes: u64,
    pub updates: u64,
}

/// When the 100-episode training mean first reached the threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdHit {
    pub env_steps: u64,
    pub wall_seconds: f64,
}

/// The part of a [`Monitor`] a checkpoint saves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    pub counters: Counters,
    pub window: EpisodeWindow,
    pub threshold_hit: Option<ThresholdHit>,
    pub best_eval: Option<EvalRow>,
    /// The next env-step counts at which to log, checkpoint and evaluate.
    pub next_log: u64,
    pub next_checkpoint: u64,
    pub next_eval: u64,
    /// The metrics of the updates since the last row.
    pub pending_metrics: MetricsSum,
}

/// What each finished episode updates.
struct Episodes {
    window: EpisodeWindow,
    /// `monitor.csv`: one row per training episode (SB3's format).
    monitor_csv: MonitorCsv,
    /// `episodes.csv`: one row per training episode.
    log: CsvLog,
}

/// What each update adds to and checks.
struct Pending {
    metrics: MetricsSum,
    /// The env-step counts of the next log, checkpoint and evaluation.
    schedule: (u64, u64, u64),
}

pub struct Monitor {
    pub config: CommonConfig,
    pub reward_threshold: Option<f64>,
    env_steps: AtomicU64,
    episodes: AtomicU64,
    updates: AtomicU64,
    /// The window and the two per-episode files, under one lock (a tabular run ends an
    /// episode every few steps).
    episodes_book: Mutex<Episodes>,
    threshold_hit: Mutex<Option<ThresholdHit>>,
    best_eval: Mutex<Option<EvalRow>>,
    /// The metrics since the last row, and the next log, checkpoint and evaluation.
    pending: Mutex<Pending>,
    metrics: Mutex<CsvLog>,
    evals: Mutex<CsvLog>,
    /// `tb/`: the rows of metrics.csv and evals.csv as TensorBoard scalars (unless turned off).
    tensorboard: Mutex<Option<EventWriter>>,
    /// When monitor.csv and the events were last written out by [`Monitor::flush_live_logs`].
    live_flush: Mutex<Instant>,
    pub progress: Progress,
    started: Instant,
    /// Wall seconds already spent before this process (resumed runs).
    wall_offset: f64,
    last_row: Mutex<(Instant, u64)>,
    stop: AtomicBool,
    /// Set when training must end with an error (non-finite loss): the message for the user.
    failure: Mutex<Option<String>>,
    run_dir: PathBuf,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Budget,
    Threshold,
    Interrupted,
    Failed,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Budget => "budget",
            StopReason::Threshold => "threshold",
            StopReason::Interrupted => "interrupted",
            StopReason::Failed => "failed",
        }
    }
}

impl Monitor {
    pub fn new(
        config: CommonConfig,
        reward_threshold: Option<f64>,
        run_dir: &Path,
        resumed: Option<MonitorState>,
        wall_offset: f64,
        report: impl Into<Report>,
    ) -> std::io::Result<Monitor> {
        let state = resumed.unwrap_or_else(|| MonitorState {
            counters: Counters::default(),
            window: EpisodeWindow::new(100),
            threshold_hit: None,
            best_eval: None,
            next_log: config.log_interval,
            next_checkpoint: config.checkpoint_interval,
            next_eval: if config.eval_interval > 0 {
                config.eval_interval
            } else {
                u64::MAX
            },
            pending_metrics: MetricsSum::default(),
        });
        let progress = Progress::new(
            config.total_steps,
            config.total_episodes,
            (state.counters.env_steps, state.counters.episodes),
            report.into(),
        );
        // The unix time at which the run's wall clock (`wall_seconds`) read 0.
        let t_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
            - wall_offset;
        let monitor_path = run_dir.join(monitor_csv::FILE);
        let monitor_csv = if config.episode_logs {
            MonitorCsv::open(&monitor_path, &config.env, t_start)?
        } else {
            MonitorCsv::disabled(&monitor_path)
        };
        let tensorboard = if config.tensorboard {
            Some(EventWriter::create(run_dir)?)
        } else {
            None
        };
        Ok(Monitor {
            reward_threshold,
            env_steps: AtomicU64::new(state.counters.env_steps),
            episodes: AtomicU64::new(state.counters.episodes),
            updates: AtomicU64::new(state.counters.updates),
            episodes_book: Mutex::new(Episodes {
                window: state.window,
                monitor_csv,
                log: CsvLog::open_lazily(&run_dir.join(EPISODES_CSV)),
            }),
            threshold_hit: Mutex::new(state.threshold_hit),
            best_eval: Mutex::new(state.best_eval),
            pending: Mutex::new(Pending {
                metrics: state.pending_metrics,
                schedule: (state.next_log, state.next_checkpoint, state.next_eval),
            }),
            metrics: Mutex::new(CsvLog::open(&run_dir.join("metrics.csv"))?),
            evals: Mutex::new(CsvLog::open_lazily(&run_dir.join("evals.csv"))),
            tensorboard: Mutex::new(tensorboard),
            live_flush: Mutex::new(Instant::now()),
            progress,
            started: Instant::now(),
            wall_offset,
            last_row: Mutex::new((Instant::now(), state.counters.env_steps)),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
            run_dir: run_dir.to_path_buf(),
            config,
        })
    }

    pub fn wall_seconds(&self) -> f64 {
        self.wall_seconds_at(Instant::now())
    }

    /// The run's wall seconds at `now`.
    fn wall_seconds_at(&self, now: Instant) -> f64 {
        self.wall_offset + now.saturating_duration_since(self.started).as_secs_f64()
    }

    pub fn counters(&self) -> Counters {
        Counters {
            env_steps: self.env_steps.load(Ordering::Relaxed),
            episodes: self.episodes.load(Ordering::Relaxed),
            updates: self.updates.load(Ordering::Relaxed),
        }
    }

    pub fn env_steps(&self) -> u64 {
        self.env_steps.load(Ordering::Relaxed)
    }

    /// What a checkpoint stores. Wall-clock times are left out (zeroed) so that a deterministic
    /// run writes identical checkpoint bytes; they live in metrics.csv, evals.csv and
    /// summary.json. Writes monitor.csv's buffered rows first: every episode a checkpoint
    /// counts has its row in the file.
    pub fn state(&self) -> MonitorState {
        let (pending_metrics, (next_log, next_checkpoint, next_eval)) = {
            let pending = lock(&self.pending);
            (pending.metrics.clone(), pending.schedule)
        };
        let mut book = lock(&self.episodes_book);
        let flushed = book.monitor_csv.flush();
        let counters = self.counters();
        let window = book.window.clone();
        let path = book.monitor_csv.path().to_path_buf();
        drop(book);
        if let Err(e) = flushed {
            self.fail_to_write(&path, &e);
        }
        MonitorState {
            counters,
            window,
            threshold_hit: lock(&self.threshold_hit).map(|h| ThresholdHit {
                wall_seconds: 0.0,
                ..h
            }),
            best_eval: lock(&self.best_eval).clone().map(|b| EvalRow {
                wall_seconds: 0.0,
                ..b
            }),
            next_log,
            next_checkpoint,
            next_eval,
            pending_metrics,
        }
    }

    /// Progress through the budget in [0, 1], for learning-rate schedules: with an episode
    /// budget too, through the budget nearer its end (the one that will stop the run).
    pub fn progress_fraction(&self) -> f64 {
        let steps = self.env_steps() as f64 / self.config.total_steps as f64;
        let episodes = self.config.total_episodes.map_or(0.0, |total| {
            self.episodes.load(Ordering::Relaxed) as f64 / total as f64
        });
        steps.max(episodes).min(1.0)
    }

    /// Records a finished episode (a row of `episodes.csv`); checks the solved threshold.
    pub fn episode_done(&self, episode_return: f64, length: u64) {
        // Numbered and logged under one lock, so that concurrent workers' rows are in order,
        // and counted under it: `state` flushes monitor.csv and reads the count under it, so
        // a checkpoint never counts an episode whose row is not in the file.
        let mut book = lock(&self.episodes_book);
        let Episodes {
            window,
            monitor_csv,
            log,
        } = &mut *book;
        let episode = self.episodes.fetch_add(1, Ordering::Relaxed) + 1;
        if self.config.episode_logs {
            // One clock reading for both rows (a tabular episode may be a microsecond).
            let now = Instant::now();
            if let Err(e) = monitor_csv.push(episode_return, length, self.wall_seconds_at(now)) {
                self.fail_to_write(monitor_csv.path(), &e);
            }
            let env_steps = self.env_steps();
            let written = log.row_bytes_at(now, EPISODES_HEADER, |line| {
                push_u64(line, episode);
                line.push(b',');
                push_u64(line, env_steps);
                line.push(b',');
                push_metric(line, episode_return);
                line.push(b',');
                push_u64(line, length);
            });
            if let Err(e) = written {
                self.fail_to_write(log.path(), &e);
            }
        }
        window.push(episode_return, length);
        if let (Some(threshold), true) = (self.reward_threshold, window.is_full()) {
            if window.mean_return_reaches(threshold) {
                let mut hit = lock(&self.threshold_hit);
                if hit.is_none() {
                    *hit = Some(ThresholdHit {
                        env_steps: self.env_steps(),
                        wall_seconds: self.wall_seconds(),
                    });
                    if self.config.stop_at_threshold {
                        self.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Accounts one update of `steps` new environment steps. Returns which periodic duties
    /// (log, checkpoint, evaluate) fell due; the caller that receives a duty performs it, so
    /// each happens once however many workers race here.
    pub fn update_done(&self, steps: u64, metrics: &[Metric]) -> Duties {
        self.updates.fetch_add(1, Ordering::Relaxed);
        let now = self.env_steps.fetch_add(steps, Ordering::Relaxed) + steps;
        let mut pending = lock(&self.pending);
        pending.metrics.add(metrics);
        let (next_log, next_checkpoint, next_eval) = &mut pending.schedule;
        let mut duties = Duties {
            env_steps: now,
            ..Duties::default()
        };
        if now >= *next_log {
            duties.log = true;
            *next_log = advance(*next_log, now, self.config.log_interval);
        }
        if now >= *next_checkpoint {
            duties.checkpoint = true;
            *next_checkpoint = advance(*next_checkpoint, now, self.config.checkpoint_interval);
        }
        if now >= *next_eval {
            duties.evaluate = true;
            *next_eval = advance(*next_eval, now, self.config.eval_interval);
        }
        duties
    }

    /// Writes a metrics row from the metrics gathered since the last one.
    pub fn log_row(&self) -> MetricsRow {
        // One row at a time, counters read under the lock: A3C workers logging at the same
        // moment must not write rows out of order (nor see another's later counters).
        let mut metrics_file = lock(&self.metrics);
        let counters = self.counters();
        let metrics = lock(&self.pending).metrics.take();
        let (mean_return, mean_length) = {
            let book = lock(&self.episodes_book);
            (book.window.mean_return(), book.window.mean_length())
        };
        // One clock reading for the row (a run may log every step).
        let now = Instant::now();
        let steps_per_second = {
            let mut last = lock(&self.last_row);
            let dt = now.saturating_duration_since(last.0).as_secs_f64();
            let rate = if dt > 0.0 {
                counters.env_steps.saturating_sub(last.1) as f64 / dt
            } else {
                0.0
            };
            *last = (now, counters.env_steps);
            rate
        };
        let row = MetricsRow {
            env_steps: counters.env_steps,
            wall_seconds: self.wall_offset
                + now.saturating_duration_since(self.started).as_secs_f64(),
            episodes: counters.episodes,
            updates: counters.updates,
            mean_return,
            mean_length,
            metrics,
            steps_per_second,
        };
        let header = if metrics_file.needs_header() {
            row.header()
        } else {
            String::new()
        };
        if let Err(e) = metrics_file.row_bytes(&header, |line| row.write_csv(line)) {
            self.fail_to_write(metrics_file.path(), &e);
        }
        if let Some(tb) = lock(&self.tensorboard).as_mut() {
            let (mut tags, mut values) = (Vec::new(), Vec::new());
            let run_columns = [
                ("time/time_elapsed", Some(row.wall_seconds)),
                ("time/episodes", Some(row.episodes as f64)),
                ("train/n_updates", Some(row.updates as f64)),
                ("rollout/ep_rew_mean", row.mean_return),
                ("rollout/ep_len_mean", row.mean_length),
                ("time/fps", Some(row.steps_per_second)),
            ];
            for (tag, value) in run_columns {
                if let Some(v) = value {
                    tags.push(tag.to_string());
                    values.push(v);
                }
            }
            for (name, value) in &row.metrics {
                if let Some(v) = value {
                    let (tag, sign) = tensorboard::metric_tag(name);
                    tags.push(tag);
                    values.push(sign * v);
                }
            }
            tb.scalars(row.env_steps, tags.iter().map(String::as_str).zip(values));
        }
        drop(metrics_file);
        self.flush_live_logs();
        self.progress.update(&row);
        row
    }

    /// Records an evaluation; returns true if it is the best so far.
    pub fn record_eval(&self, row: EvalRow) -> bool {
        let mut evals = lock(&self.evals);
        if let Err(e) = evals.row(EvalRow::HEADER, &row.to_csv()) {
            self.fail_to_write(evals.path(), &e);
        }
        if let Some(tb) = lock(&self.tensorboard).as_mut() {
            tb.scalars(
                row.env_steps,
                [
                    ("eval/mean_reward", row.mean_return),
                    ("eval/std_reward", row.std_return),
                    ("eval/episodes", row.episodes as f64),
                ],
            );
        }
        drop(evals);
        self.flush_live_logs();
        let mut best = lock(&self.best_eval);
        let improved = best
            .as_ref()
            .is_none_or(|b| row.mean_return > b.mean_return);
        self.progress.println(&format!(
            "eval at {:>9} steps: return {:.2} ± {:.2} over {} episodes{}",
            row.env_steps,
            row.mean_return,
            row.std_return,
            row.episodes,
            if improved { "  (best so far)" } else { "" }
        ));
        if improved {
            *best = Some(row);
        }
        improved
    }

    pub fn best_eval(&self) -> Option<EvalRow> {
        lock(&self.best_eval).clone()
    }

    pub fn threshold_hit(&self) -> Option<ThresholdHit> {
        *lock(&self.threshold_hit)
    }

    pub fn mean_return(&self) -> Option<f64> {
        lock(&self.episodes_book).window.mean_return()
    }

    pub fn max_mean_return(&self) -> Option<f64> {
        lock(&self.episodes_book).window.max_mean_return()
    }

    /// Ends training with an error message (e.g. a non-finite loss); workers stop at once.
    pub fn fail(&self, message: String) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            *failure = Some(message);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// A run file that cannot be written (a full disk, a quota) stops the run at once, with
    /// this first failure as its error: training on without logs would waste the compute,
    /// and the failures after it (the final checkpoint, summary.json) would hide the cause.
    pub fn fail_to_write(&self, path: &Path, error: &std::io::Error) {
        let dir = self.run_dir.display();
        let next = if self.run_dir.join(super::run_dir::LATEST).exists() {
            format!(
                "the last checkpoint is kept: make room, then continue with `engram train \
                 --resume {dir} --steps N`"
            )
        } else {
            format!("no checkpoint was written yet: make room, delete {dir} and start again")
        };
        self.fail(format!(
            "cannot write {}: {error}. Training stopped at {} env steps; {next}",
            path.display(),
            self.env_steps(),
        ));
    }

    pub fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    /// Whether workers should stop now, and why.
    pub fn should_stop(&self) -> Option<StopReason> {
        // `fail` sets `stop` too: the failure's lock is taken only then (a tabular run asks
        // at every episode's end).
        let stopped = self.stop.load(Ordering::Relaxed);
        if stopped && lock(&self.failure).is_some() {
            return Some(StopReason::Failed);
        }
        if stop_flag().load(Ordering::Relaxed) {
            return Some(StopReason::Interrupted);
        }
        if stopped {
            return Some(StopReason::Threshold);
        }
        if self.env_steps() >= self.config.total_steps {
            return Some(StopReason::Budget);
        }
        if self
            .config
            .total_episodes
            .is_some_and(|total| self.episodes.load(Ordering::Relaxed) >= total)
        {
            return Some(StopReason::Budget);
        }
        None
    }

    /// [`Monitor::flush_logs`] at most once per [`CsvLog::FLUSH_EVERY`]: after each metrics and
    /// evaluation row, so that TensorBoard and monitor.csv can be watched live without a write
    /// per row when a run logs every step (a bandit).
    fn flush_live_logs(&self) {
        let mut last = lock(&self.live_flush);
        if last.elapsed() >= CsvLog::FLUSH_EVERY {
            *last = Instant::now();
            drop(last);
            self.flush_logs();
        }
    }

    /// Writes the buffered rows of the run's CSV files, monitor.csv and the TensorBoard events
    /// (each log interval, each evaluation, before each checkpoint, so that a run resumed from
    /// it has every row up to it, and at the end). A file that cannot be written stops the run
    /// ([`Monitor::fail_to_write`]); returns false then.
    pub fn flush_logs(&self) -> bool {
        for log in [&self.metrics, &self.evals] {
            let mut log = lock(log);
            if let Err(e) = log.flush() {
                self.fail_to_write(log.path(), &e);
                return false;
            }
        }
        let mut book = lock(&self.episodes_book);
        let flushed = book
            .log
            .flush()
            .map_err(|e| (book.log.path().to_path_buf(), e));
        let flushed = flushed.and_then(|()| {
            book.monitor_csv
                .flush()
                .map_err(|e| (book.monitor_csv.path().to_path_buf(), e))
        });
        drop(book);
        if let Err((path, e)) = flushed {
            self.fail_to_write(&path, &e);
            return false;
        }
        let mut tb = lock(&self.tensorboard);
        if let Some(writer) = tb.as_mut() {
            if let Err(e) = writer.flush() {
                let path = writer.path().to_path_buf();
                drop(tb);
                self.fail_to_write(&path, &e);
                return false;
            }
        }
        true
    }
}

/// The per-episode log of a run directory.
pub const EPISODES_CSV: &str = "episodes.csv";
/// Its columns. `env_steps`: the run's env-step counter when the episode was recorded; the
/// counter moves at updates, so an episode that ends within a rollout gets the count at the
/// rollout's start.
pub const EPISODES_HEADER: &str = "episode,env_steps,return,length";

/// Duties that fell due with one update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Duties {
    pub env_steps: u64,
    pub log: bool,
    pub checkpoint: bool,
    pub evaluate: bool,
}

/// The next multiple of `interval` past `now`, stepping from `due`.
fn advance(due: u64, now: u64, interval: u64) -> u64 {
    let skipped = (now - due) / interval + 1;
    due.saturating_add(skipped.saturating_mul(interval))
}

/// Locks a mutex, recovering the data if a worker panicked while holding it (the panic itself
/// is reported when the worker is joined).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a collector reports finished episodes: the run's [`Monitor`], or, on a worker apart
/// from its learner (A3C across machines), a list the learner receives with the
/// worker's gradient.
pub trait EpisodeSink {
    fn episode_done(&self, episode_return: f64, length: u64);
}

impl EpisodeSink for Monitor {
    fn episode_done(&self, episode_return: f64, length: u64) {
        Monitor::episode_done(self, episode_return, length);
    }
}

impl<T: EpisodeSink + ?Sized> EpisodeSink for Arc<T> {
    fn episode_done(&self, episode_return: f64, length: u64) {
        (**self).episode_done(episode_return, length);
    }
}

/// Episodes (return, length) kept for whoever collects them next.
impl EpisodeSink for Mutex<Vec<(f64, u64)>> {
    fn episode_done(&self, episode_return: f64, length: u64) {
        lock(self).push((episode_return, length));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_fall_due_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let config = CommonConfig {
            log_interval: 100,
            checkpoint_interval: 250,
            eval_interval: 0,
            total_steps: 1000,
            ..CommonConfig::default()
        };
        let m = Monitor::new(config, None, dir.path(), None, 0.0, true).unwrap();
        let mut logs = 0;
        let mut checkpoints = 0;
        for _ in 0..50 {
            let d = m.update_done(20, &[]);
            logs += d.log as u32;
            checkpoints += d.checkpoint as u32;
            assert!(!d.evaluate);
        }
        assert_eq!(m.env_steps(), 1000);
        assert_eq!(logs, 10);
        assert_eq!(checkpoints, 4);
        assert_eq!(m.should_stop(), Some(StopReason::Budget));
    }

    #[test]
    fn an_episode_budget_stops_the_run_and_each_episode_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let config = CommonConfig {
            total_steps: 1000,
            total_episodes: Some(3),
            ..CommonConfig::default()
        };
        let m = Monitor::new(config, None, dir.path(), None, 0.0, true).unwrap();
        m.update_done(10, &[]);
        m.episode_done(1.5, 10);
        m.episode_done(-2.0, 4);
        assert_eq!(m.should_stop(), None);
        assert!(
            (m.progress_fraction() - 2.0 / 3.0).abs() < 1e-12,
            "the nearer budget"
        );
        m.episode_done(0.25, 1);
        assert_eq!(m.should_stop(), Some(StopReason::Budget));
        assert!(m.flush_logs());
        let text = std::fs::read_to_string(dir.path().join(EPISODES_CSV)).unwrap();
        assert_eq!(
            text,
            "episode,env_steps,return,length\n1,10,1.500000,10\n2,10,-2.000000,4\n3,10,0.250000,1\n"
        );
    }

    #[test]
    fn threshold_needs_a_full_window() {
        let dir = tempfile::tempdir().unwrap();
        let config = CommonConfig {
            stop_at_threshold: true,
            ..CommonConfig::default()
        };
        let m = Monitor::new(config, Some(475.0), dir.path(), None, 0.0, true).unwrap();
        for _ in 0..99 {
            m.episode_done(500.0, 500);
        }
        assert!(m.threshold_hit().is_none());
        m.episode_done(500.0, 500);
        assert!(m.threshold_hit().is_some());
        assert_eq!(m.should_stop(), Some(StopReason::Threshold));
    }
}
