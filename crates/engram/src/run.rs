//! The run directory and what training writes into it.
//!
//! ```text
//! runs/CartPole-v1_a3c_s0/
//!   config.toml          every hyper-parameter used, defaults included (read back by --resume)
//!   metrics.csv          one row per log interval: steps, time, returns, losses, throughput
//!   evals.csv            one row per greedy evaluation
//!   checkpoints/latest.safetensors (+ .json)   for resuming
//!   checkpoints/best.safetensors   (+ .json)   the best evaluated policy, for `engram eval`
//!   summary.json         written at the end
//! ```

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const LATEST: &str = "checkpoints/latest.safetensors";
pub const BEST: &str = "checkpoints/best.safetensors";

/// A fresh directory `base/<env>_<algo>_s<seed>`, with `_2`, `_3`, ... appended if taken.
pub fn fresh_run_dir(base: &Path, env: &str, algo: &str, seed: u64) -> std::io::Result<PathBuf> {
    let stem = format!("{}_{}_s{}", env.replace(['/', ' '], "_"), algo, seed);
    let mut candidate = base.join(&stem);
    let mut n = 2;
    while candidate.exists() {
        candidate = base.join(format!("{stem}_{n}"));
        n += 1;
    }
    fs::create_dir_all(candidate.join("checkpoints"))?;
    Ok(candidate)
}

/// The returns and lengths of the last `capacity` finished episodes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpisodeWindow {
    capacity: usize,
    returns: VecDeque<f64>,
    lengths: VecDeque<u64>,
    /// The highest mean of a full window so far: POPGym's MMER (maximum mean episodic return).
    #[serde(default)]
    max_full_mean: Option<f64>,
}

impl EpisodeWindow {
    pub fn new(capacity: usize) -> Self {
        EpisodeWindow {
            capacity,
            returns: VecDeque::new(),
            lengths: VecDeque::new(),
            max_full_mean: None,
        }
    }

    pub fn push(&mut self, episode_return: f64, length: u64) {
        if self.returns.len() == self.capacity {
            self.returns.pop_front();
            self.lengths.pop_front();
        }
        self.returns.push_back(episode_return);
        self.lengths.push_back(length);
        if self.is_full() {
            let mean = self.returns.iter().sum::<f64>() / self.capacity as f64;
            self.max_full_mean = Some(self.max_full_mean.map_or(mean, |m| m.max(mean)));
        }
    }

    /// Maximum over training of the mean return of a full window (MMER with a window of 100).
    pub fn max_mean_return(&self) -> Option<f64> {
        self.max_full_mean
    }

    pub fn len(&self) -> usize {
        self.returns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.returns.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.returns.len() == self.capacity
    }

    pub fn mean_return(&self) -> Option<f64> {
        (!self.returns.is_empty())
            .then(|| self.returns.iter().sum::<f64>() / self.returns.len() as f64)
    }

    pub fn mean_length(&self) -> Option<f64> {
        (!self.lengths.is_empty())
            .then(|| self.lengths.iter().sum::<u64>() as f64 / self.lengths.len() as f64)
    }
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsRow {
    pub env_steps: u64,
    pub wall_seconds: f64,
    pub episodes: u64,
    pub updates: u64,
    /// Mean return of the last 100 training episodes (empty until one finished).
    pub mean_return: Option<f64>,
    pub mean_length: Option<f64>,
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
    pub grad_norm: f64,
    /// PPO only (0 otherwise).
    pub approx_kl: f64,
    pub clip_fraction: f64,
    pub learning_rate: f64,
    pub steps_per_second: f64,
}

impl MetricsRow {
    pub const HEADER: &'static str =
        "env_steps,wall_seconds,episodes,updates,mean_return,mean_length,policy_loss,\
value_loss,entropy,grad_norm,approx_kl,clip_fraction,learning_rate,steps_per_second";

    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        format!(
            "{},{:.3},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{:.6e},{:.0}",
            self.env_steps,
            self.wall_seconds,
            self.episodes,
            self.updates,
            opt(self.mean_return),
            opt(self.mean_length),
            self.policy_loss,
            self.value_loss,
            self.entropy,
            self.grad_norm,
            self.approx_kl,
            self.clip_fraction,
            self.learning_rate,
            self.steps_per_second
        )
    }
}

/// One row of `evals.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    pub env_steps: u64,
    pub wall_seconds: f64,
    pub mean_return: f64,
    pub std_return: f64,
    pub episodes: usize,
}

impl EvalRow {
    pub const HEADER: &'static str = "env_steps,wall_seconds,mean_return,std_return,episodes";

    pub fn to_csv(&self) -> String {
        format!(
            "{},{:.3},{:.4},{:.4},{}",
            self.env_steps, self.wall_seconds, self.mean_return, self.std_return, self.episodes
        )
    }
}

/// Appends rows to a CSV file, writing the header only when the file is new (so a resumed run
/// continues the same file).
pub struct CsvLog {
    out: BufWriter<File>,
}

impl CsvLog {
    pub fn open(path: &Path, header: &str) -> std::io::Result<CsvLog> {
        let fresh = fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut out = BufWriter::new(file);
        if fresh {
            writeln!(out, "{header}")?;
            out.flush()?;
        }
        Ok(CsvLog { out })
    }

    pub fn row(&mut self, line: &str) -> std::io::Result<()> {
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }
}

/// The last value of `column` in a CSV written by [`CsvLog`] (used to continue the wall clock
/// of a resumed run).
pub fn last_csv_value(path: &Path, column: &str) -> Option<f64> {
    let text = fs::read_to_string(path).ok()?;
    let index = text.lines().next()?.split(',').position(|c| c == column)?;
    // The header never parses as a number, so it needs no skipping.
    text.lines()
        .rfind(|l| !l.trim().is_empty())?
        .split(',')
        .nth(index)?
        .parse()
        .ok()
}

/// `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub env: String,
    pub algo: String,
    pub policy: String,
    pub seed: u64,
    pub workers: usize,
    pub env_steps: u64,
    pub episodes: u64,
    pub wall_seconds: f64,
    pub steps_per_second: f64,
    pub best_eval_mean: Option<f64>,
    pub best_eval_std: Option<f64>,
    /// Mean return of the last 100 training episodes.
    pub final_train_mean_return: Option<f64>,
    /// Maximum over training of the 100-episode mean return (POPGym's MMER).
    pub max_train_mean_return: Option<f64>,
    pub reward_threshold: Option<f64>,
    /// The 100-episode training mean reached the environment's reward threshold.
    pub solved: bool,
    pub seconds_to_threshold: Option<f64>,
    pub steps_to_threshold: Option<u64>,
    /// Why training ended: `budget`, `threshold`, `interrupted`.
    pub stop_reason: String,
    pub engram_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_last_episodes() {
        let mut w = EpisodeWindow::new(3);
        assert_eq!(w.mean_return(), None);
        for r in [1.0, 2.0, 3.0, 10.0] {
            w.push(r, r as u64);
        }
        assert!(w.is_full());
        assert_eq!(w.mean_return(), Some(5.0));
        assert_eq!(w.mean_length(), Some(5.0));
        // Full windows so far: [1, 2, 3] (mean 2) and [2, 3, 10] (mean 5).
        assert_eq!(w.max_mean_return(), Some(5.0));
        w.push(0.0, 0);
        assert_eq!(
            w.max_mean_return(),
            Some(5.0),
            "a maximum, not the latest mean"
        );
    }

    #[test]
    fn csv_log_appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        {
            let mut log = CsvLog::open(&path, MetricsRow::HEADER).unwrap();
            log.row(
                &MetricsRow {
                    env_steps: 10,
                    wall_seconds: 1.5,
                    ..Default::default()
                }
                .to_csv(),
            )
            .unwrap();
        }
        {
            let mut log = CsvLog::open(&path, MetricsRow::HEADER).unwrap();
            log.row(
                &MetricsRow {
                    env_steps: 20,
                    wall_seconds: 2.5,
                    ..Default::default()
                }
                .to_csv(),
            )
            .unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "one header, two rows:\n{text}");
        assert_eq!(last_csv_value(&path, "wall_seconds"), Some(2.5));
        assert_eq!(last_csv_value(&path, "env_steps"), Some(20.0));
    }

    #[test]
    fn fresh_dirs_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let a = fresh_run_dir(dir.path(), "CartPole-v1", "a3c", 0).unwrap();
        let b = fresh_run_dir(dir.path(), "CartPole-v1", "a3c", 0).unwrap();
        assert_ne!(a, b);
        assert!(b.ends_with("CartPole-v1_a3c_s0_2"));
    }
}
