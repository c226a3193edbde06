//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

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
