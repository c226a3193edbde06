//! The run directory and what training writes into it.
//!
//! ```text
//! runs/CartPole-v1_a3c_s0/
//!   config.toml          every hyper-parameter used, defaults included (read back by --resume)
//!   metrics.csv          one row per log interval: steps, time, returns, losses, throughput
//!   evals.csv            one row per greedy evaluation
//!   monitor.csv          one row per training episode, SB3's Monitor format (r, l, t)
//!   tb/events.out.tfevents.*   metrics.csv and evals.csv as TensorBoard scalars
//!   checkpoints/latest.safetensors (+ .json)   for resuming
//!   checkpoints/best.safetensors   (+ .json)   the best evaluated policy, for `engram eval`
//!   summary.json         written at the end
//! ```

use serde::{Deserialize, Serialize};
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

/// Appends rows to a CSV file, writing the header before the first row only when the file is
/// new (so a resumed run continues the same file). The header is given with each row, since
/// an algorithm's metric columns are known only once it reports them.
pub struct CsvLog {
    out: BufWriter<File>,
    needs_header: bool,
    path: PathBuf,
}

impl CsvLog {
    pub fn open(path: &Path) -> std::io::Result<CsvLog> {
        let fresh = fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(CsvLog {
            out: BufWriter::new(file),
            needs_header: fresh,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn row(&mut self, header: &str, line: &str) -> std::io::Result<()> {
        if self.needs_header {
            writeln!(self.out, "{header}")?;
            self.needs_header = false;
        }
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

/// Drops the rows of a CSV written by [`CsvLog`] whose `column` exceeds `max` (rows logged
/// after the checkpoint a run resumes from: the resumed run logs them again), and rows a crash
/// cut short. Rewritten atomically; a missing file is fine.
pub fn truncate_csv_after(path: &Path, column: &str, max: f64) -> std::io::Result<()> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(());
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let Some(index) = header.split(',').position(|c| c == column) else {
        return Ok(());
    };
    let mut kept = format!("{header}\n");
    let mut dropped = false;
    for line in lines {
        let value = line
            .split(',')
            .nth(index)
            .and_then(|v| v.parse::<f64>().ok());
        if value.is_some_and(|v| v > max) {
            dropped = true;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if dropped {
        super::checkpoint::write_atomic(path, kept.as_bytes())?;
    }
    Ok(())
}

/// Removes the temporary files of writes a crash interrupted (`*.tmp` beside checkpoints and
/// the run's own files).
pub fn remove_temp_files(run_dir: &Path) {
    for dir in [run_dir.to_path_buf(), run_dir.join("checkpoints")] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub env: String,
    pub algo: String,
    pub policy: String,
    pub seed: u64,
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
    /// Why training ended: `budget`, `threshold`, `interrupted`, `failed`.
    pub stop_reason: String,
    pub engram_version: String,
    /// Where the run's files are.
    #[serde(default)]
    pub run_dir: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_log_appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let header = "env_steps,wall_seconds";
        CsvLog::open(&path).unwrap().row(header, "10,1.5").unwrap();
        CsvLog::open(&path).unwrap().row(header, "20,2.5").unwrap();
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
