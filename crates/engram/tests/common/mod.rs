//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use engram::runtime::Summary;
use engram::train::{resume, train};
use engram::RunConfig;
use std::fs;
use std::path::Path;

/// Trains `c` for `c.total_steps` in one go, and again stopping at `split_at` then resuming
/// to the full budget; asserts that both end with the same latest checkpoint bytes and the
/// same metrics rows. Returns the summaries of the split run's two parts.
pub fn assert_resume_is_exact(c: &RunConfig, split_at: u64, what: &str) -> (Summary, Summary) {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    train(c.clone(), Some(&whole), true).unwrap();
    let first = train(
        with(c.clone(), &[&format!("total_steps={split_at}")]),
        Some(&split),
        true,
    )
    .unwrap();
    let budget = format!("total_steps={}", c.common.total_steps);
    let second = resume(&split, &[budget], true).unwrap();
    assert!(
        second.env_steps > first.env_steps,
        "{what}: counters continue"
    );
    assert!(
        bytes(&whole, "checkpoints/latest.safetensors")
            == bytes(&split, "checkpoints/latest.safetensors"),
        "{what}: resumed run diverged from the uninterrupted one"
    );
    assert_eq!(
        metrics_without_time(&whole),
        metrics_without_time(&split),
        "{what}: metrics differ"
    );
    // Created with its first episode: a dynamic-programming run has none.
    assert_eq!(
        fs::read_to_string(whole.join("episodes.csv")).ok(),
        fs::read_to_string(split.join("episodes.csv")).ok(),
        "{what}: episodes.csv differs"
    );
    assert_eq!(
        monitor_without_time(&whole),
        monitor_without_time(&split),
        "{what}: monitor.csv episodes differ"
    );
    (first, second)
}

/// monitor.csv's `(r, l)` rows, as a strict reader equivalent to SB3's `load_results` reads
/// them (see [`load_monitor`]).
pub fn monitor_without_time(dir: &Path) -> Vec<(f64, u64)> {
    load_monitor(dir)
        .rows
        .iter()
        .map(|&(r, l, _)| (r, l))
        .collect()
}

/// monitor.csv as SB3's `load_results` sees it.
pub struct MonitorFile {
    pub t_start: f64,
    pub env_id: String,
    /// `(r, l, t)`.
    pub rows: Vec<(f64, u64, f64)>,
}

/// Reads `dir/monitor.csv` strictly, as SB3's `load_results` does (`json.loads` of the first
/// line after its `#`, then a CSV with exactly the columns r, l, t): panics on anything it
/// would refuse or misread (a missing key, a torn row, a non-numeric cell, time going back).
pub fn load_monitor(dir: &Path) -> MonitorFile {
    let text = fs::read_to_string(dir.join("monitor.csv")).unwrap();
    assert!(text.ends_with('\n'), "a torn last line:\n{text}");
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    let json = first
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("first line must start with #: {first}"));
    let header: serde_json::Value = serde_json::from_str(json).unwrap();
    let t_start = header["t_start"].as_f64().expect("t_start is a number");
    let env_id = header["env_id"]
        .as_str()
        .expect("env_id is a string")
        .to_string();
    assert_eq!(lines.next(), Some("r,l,t"));
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 3, "row {line:?}");
        let r: f64 = cells[0].parse().unwrap();
        let l: u64 = cells[1].parse().unwrap();
        let t: f64 = cells[2].parse().unwrap();
        assert!(r.is_finite() && t.is_finite() && t >= 0.0, "row {line:?}");
        if let Some(&(_, _, before)) = rows.last() {
            assert!(t >= before, "time goes back at {line:?}");
        }
        rows.push((r, l, t));
    }
    MonitorFile {
        t_start,
        env_id,
        rows,
    }
}

/// metrics.csv without the wall-clock columns (wall_seconds, steps_per_second).
pub fn metrics_without_time(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            let keep: Vec<&str> = cols
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1 && *i != cols.len() - 1)
                .map(|(_, c)| *c)
                .collect();
            keep.join(",")
        })
        .collect()
}

pub fn evals_without_time(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("evals.csv")).unwrap();
    text.lines()
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

pub fn bytes(dir: &Path, file: &str) -> Vec<u8> {
    fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// `c` with `key=value` settings applied, as `--set` would.
pub fn with(mut c: RunConfig, settings: &[&str]) -> RunConfig {
    for s in settings {
        c.set(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    c
}

/// An algorithm's tuned config on `env`.
pub fn tuned(algo: &str, env: &str) -> RunConfig {
    RunConfig::tuned(algo, env).unwrap()
}
