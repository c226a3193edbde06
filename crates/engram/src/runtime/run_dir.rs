//! The run directory and what training writes into it.
//!
//! ```text
//! runs/CartPole-v1_a3c_s0/
//!   config.toml          every hyper-parameter used, defaults included (read back by --resume)
//!   metrics.csv          one row per log interval: steps, time, returns, losses, throughput
//!   episodes.csv         one row per training episode: its number, env steps, return, length
//!   evals.csv            one row per greedy evaluation (created with the first)
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
use std::time::{Duration, Instant};

pub const LATEST: &str = "checkpoints/latest.safetensors";
pub const BEST: &str = "checkpoints/best.safetensors";
/// The file that marks a multi-seed directory (`OUT/seed_N/` run directories beside it).
pub const SEEDS_FILE: &str = "seeds.toml";
/// A multi-seed directory's averages across seeds (written by `seeds::curves`).
pub const CURVES_CSV: &str = "curves.csv";

/// A fresh directory `base/<env>_<algo>_s<seed>`, with `_2`, `_3`, ... appended if taken.
pub fn fresh_run_dir(base: &Path, env: &str, algo: &str, seed: u64) -> std::io::Result<PathBuf> {
    let dir = fresh_dir(
        base,
        &format!("{}_{}_s{}", env.replace(['/', ' '], "_"), algo, seed),
    )?;
    fs::create_dir_all(dir.join("checkpoints"))?;
    Ok(dir)
}

/// A fresh directory `base/<stem>`, with `_2`, `_3`, ... appended if taken; created.
pub fn fresh_dir(base: &Path, stem: &str) -> std::io::Result<PathBuf> {
    let mut candidate = base.join(stem);
    let mut n = 2;
    while candidate.exists() {
        candidate = base.join(format!("{stem}_{n}"));
        n += 1;
    }
    fs::create_dir_all(&candidate)?;
    Ok(candidate)
}

/// Appends rows to a CSV file, writing the header before the first row only when the file is
/// new (so a resumed run continues the same file). The header is given with each row, since
/// an algorithm's metric columns are known only once it reports them.
///
/// Rows are buffered and reach the file at most [`CsvLog::FLUSH_EVERY`] after they are
/// written, and always before a checkpoint ([`CsvLog::flush`]): a run that logs every step
/// (a bandit) would otherwise spend more time in `write` calls than in learning. A crash
/// loses only rows logged after the last checkpoint, which a resumed run logs again anyway.
pub struct CsvLog {
    /// `None` until opened (see [`CsvLog::open_lazily`]: thousands of short seeds make every
    /// file creation count).
    out: Option<BufWriter<File>>,
    needs_header: bool,
    path: PathBuf,
    last_flush: Instant,
    /// The line being formatted (reused).
    line: Vec<u8>,
}

impl CsvLog {
    /// The longest a written row waits in the buffer.
    pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

    /// A log appending to `path`, created now.
    pub fn open(path: &Path) -> std::io::Result<CsvLog> {
        let mut log = CsvLog::open_lazily(path);
        log.file()?;
        Ok(log)
    }

    /// A log appending to `path`, created with its first row (evals.csv of a run that never
    /// evaluates is not created).
    pub fn open_lazily(path: &Path) -> CsvLog {
        CsvLog {
            out: None,
            needs_header: false,
            path: path.to_path_buf(),
            last_flush: Instant::now(),
            line: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, opened for appending the first time (the header goes only into a new or
    /// empty file, so a resumed run continues the same file).
    fn file(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        if self.out.is_none() {
            let fresh = fs::metadata(&self.path)
                .map(|m| m.len() == 0)
                .unwrap_or(true);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.needs_header = fresh;
            self.out = Some(BufWriter::new(file));
        }
        match &mut self.out {
            Some(out) => Ok(out),
            None => Err(std::io::Error::other("log file not open")),
        }
    }

    /// Whether the next row writes the header first (callers build it only then).
    pub fn needs_header(&self) -> bool {
        self.needs_header || self.out.is_none()
    }

    pub fn row(&mut self, header: &str, line: &str) -> std::io::Result<()> {
        self.row_bytes(header, |out| out.extend_from_slice(line.as_bytes()))
    }

    /// [`CsvLog::row`] with the line appended by `line` to a reused buffer.
    pub fn row_bytes(
        &mut self,
        header: &str,
        line: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        self.row_bytes_at(Instant::now(), header, line)
    }

    /// [`CsvLog::row_bytes`] with the clock already read (`now`).
    pub fn row_bytes_at(
        &mut self,
        now: Instant,
        header: &str,
        line: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        let mut buffer = std::mem::take(&mut self.line);
        buffer.clear();
        line(&mut buffer);
        buffer.push(b'\n');
        let written = (|| {
            self.file()?;
            let needs_header = std::mem::replace(&mut self.needs_header, false);
            let out = self.file()?;
            if needs_header {
                writeln!(out, "{header}")?;
            }
            out.write_all(&buffer)
        })();
        self.line = buffer;
        written?;
        if now.saturating_duration_since(self.last_flush) >= Self::FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.last_flush = Instant::now();
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
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
        let mut log = CsvLog::open(&path).unwrap();
        log.row(header, "20,2.5").unwrap();
        drop(log);
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
