//! `monitor.csv`: one row per finished training episode, in the format of Stable-Baselines3's
//! `Monitor` wrapper, so that SB3's `load_results`, rl-zoo's plotting scripts and anything else
//! written for SB3 runs read engram runs unchanged:
//!
//! ```text
//! #{"t_start": 1764498000.123456, "env_id": "CartPole-v1"}
//! r,l,t
//! 23.0,23,0.004127
//! ```
//!
//! `r` is the episode's return, `l` its length, `t` the run's wall seconds when it ended
//! (`wall_seconds` of metrics.csv: a resumed run continues the clock of the first process, and
//! `t_start` stays that of the first process). Rows are buffered and written whole lines at a
//! time (at each log interval, before each checkpoint and at the end), so that a crash loses at
//! most the rows since the last write and never leaves half a line behind; a resumed run drops
//! the rows after its checkpoint ([`truncate`]) and appends.

use super::metrics::{push_fixed, push_u64};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file's name in the run directory (SB3's `load_results` globs `*monitor.csv`).
pub const FILE: &str = "monitor.csv";

/// Rows are written once this many bytes are buffered, even between log intervals.
const BUFFER_LIMIT: usize = 64 * 1024;

/// The column line under the JSON header.
const COLUMNS: &str = "r,l,t";

pub struct MonitorCsv {
    /// None: the run keeps no episode files (`episode_logs = false`); rows are dropped.
    file: Option<File>,
    buffer: Vec<u8>,
    path: PathBuf,
}

impl MonitorCsv {
    /// Opens `path` for appending. A new or empty file gets SB3's two header lines, with
    /// `t_start` (unix seconds at which the run's wall clock reads 0) and the environment id.
    pub fn open(path: &Path, env_id: &str, t_start: f64) -> io::Result<MonitorCsv> {
        let fresh = fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut log = MonitorCsv {
            file: Some(file),
            buffer: Vec::new(),
            path: path.to_path_buf(),
        };
        if fresh {
            // As SB3 writes it (`json.dumps` separators, `t_start` first).
            let env_id = serde_json::Value::from(env_id);
            log.buffer =
                format!("#{{\"t_start\": {t_start:?}, \"env_id\": {env_id}}}\n{COLUMNS}\n")
                    .into_bytes();
            log.flush()?;
        }
        Ok(log)
    }

    /// A log that writes nothing (no file is created).
    pub fn disabled(path: &Path) -> MonitorCsv {
        MonitorCsv {
            file: None,
            buffer: Vec::new(),
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one episode's row; writes the buffer once it is large.
    pub fn push(&mut self, episode_return: f64, length: u64, t: f64) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        // `{:?}` prints the shortest text that reads back as the same f64, and keeps a
        // decimal point ("23.0"), as Python's float repr does; whole numbers (most returns)
        // are written without it, as it would write them (a tabular run ends an episode
        // every few steps, and the formatting was a tenth of its time).
        if episode_return == episode_return.trunc() && episode_return.abs() < 1e15 {
            if episode_return.is_sign_negative() {
                self.buffer.push(b'-');
            }
            push_u64(&mut self.buffer, episode_return.abs() as u64);
            self.buffer.extend_from_slice(b".0,");
        } else {
            let _ = write!(self.buffer, "{episode_return:?},");
        }
        push_u64(&mut self.buffer, length);
        self.buffer.push(b',');
        push_fixed(&mut self.buffer, t, 6);
        self.buffer.push(b'\n');
        if self.buffer.len() >= BUFFER_LIMIT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows in one call (whole lines only).
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = file.write_all(&self.buffer);
        // On an error the rows are dropped rather than written twice by the next attempt.
        self.buffer.clear();
        result
    }
}

impl Drop for MonitorCsv {
    fn drop(&mut self) {
        // Best effort (a panic, an early return): the run's own flush reports errors.
        let _ = self.flush();
    }
}

/// Keeps the header and the first `episodes` rows of a `monitor.csv` (a resumed run plays the
/// episodes after its checkpoint again), and drops a last line a crash cut short. Rewritten
/// atomically; a missing file is fine.
pub fn truncate(path: &Path, episodes: u64) -> io::Result<()> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::with_capacity(text.len());
    let mut rows = 0u64;
    let mut changed = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let whole = line.ends_with('\n');
        let header = i < 2 && (line.starts_with('#') || line.trim_end() == COLUMNS);
        if header && whole {
            kept.push_str(line);
        } else if whole && rows < episodes {
            kept.push_str(line);
            rows += 1;
        } else {
            changed = true;
        }
    }
    if changed {
        super::checkpoint::write_atomic(path, kept.as_bytes())?;
    }
    Ok(())
}

/// The `t` of the last row (a resumed run's clock continues from the later of it and the last
/// metrics row, so that `t` never goes back).
pub fn last_time(path: &Path) -> Option<f64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with('#') && *l != COLUMNS)?
        .split(',')
        .nth(2)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_are_written_as_python_floats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut log = MonitorCsv::open(&path, "Taxi-v3", 0.0).unwrap();
        let returns = [-200.0, 7.0, -0.0, 0.0, 0.1, -13.25, 1e15, 2.5e16, 1e-7];
        for r in returns {
            log.push(r, 1, 0.0000005).unwrap();
        }
        log.flush().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let written: Vec<&str> = text.lines().skip(2).collect();
        let expected: Vec<String> = returns
            .iter()
            .map(|r| format!("{r:?},1,0.000000"))
            .collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn rows_reach_the_file_only_when_flushed_and_resume_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut log = MonitorCsv::open(&path, "CartPole-v1", 1000.5).unwrap();
        log.push(23.0, 23, 0.25).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "#{\"t_start\": 1000.5, \"env_id\": \"CartPole-v1\"}\nr,l,t\n"
        );
        log.flush().unwrap();
        log.push(-1.5, 7, 1.0).unwrap();
        drop(log);
        let mut log = MonitorCsv::open(&path, "CartPole-v1", 2000.0).unwrap();
        log.push(9.0, 9, 2.0).unwrap();
        log.flush().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "#{\"t_start\": 1000.5, \"env_id\": \"CartPole-v1\"}",
                "r,l,t",
                "23.0,23,0.250000",
                "-1.5,7,1.000000",
                "9.0,9,2.000000"
            ]
        );
    }

    #[test]
    fn truncate_keeps_the_checkpointed_episodes_and_drops_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        fs::write(&path, "#{}\nr,l,t\n1.0,1,0.1\n2.0,2,0.2\n3.0,3,0.3\n4.0,4").unwrap();
        truncate(&path, 10).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "#{}\nr,l,t\n1.0,1,0.1\n2.0,2,0.2\n3.0,3,0.3\n"
        );
        truncate(&path, 2).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "#{}\nr,l,t\n1.0,1,0.1\n2.0,2,0.2\n"
        );
        assert_eq!(last_time(&path), Some(0.2));
        truncate(&dir.path().join("missing.csv"), 0).unwrap();
        assert_eq!(last_time(&dir.path().join("missing.csv")), None);
    }
}
