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
    (first, second)
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
