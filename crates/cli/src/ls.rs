//! `engram ls [DIR]`: one line per run under a directory (env, algo, seed, steps, wall time,
//! best evaluation, when it was solved), read from each run's config.toml and summary.json, or,
//! for a run still going or stopped by a crash, from its metrics.csv and evals.csv.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How deep below DIR run directories are looked for (`runs/sweep/seed3/...`).
const MAX_DEPTH: usize = 4;

/// One line of the listing.
#[derive(Debug, Default, PartialEq)]
pub struct RunLine {
    pub path: String,
    pub env: String,
    pub algo: String,
    pub seed: String,
    pub steps: Option<u64>,
    pub wall_seconds: Option<f64>,
    pub best_eval: Option<f64>,
    pub solved_at: Option<u64>,
    /// `budget`, `threshold`, `interrupted`, `failed`; `unfinished` without summary.json.
    pub status: String,
}

pub fn run_cli(dir: &Path) -> Result<ExitCode, Box<dyn Error>> {
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a directory: give the folder that holds the runs (default: runs)",
            dir.display()
        )
        .into());
    }
    let mut dirs = Vec::new();
    find_runs(dir, 0, &mut dirs);
    if dirs.is_empty() {
        return Err(format!(
            "no runs under {} (a run directory holds config.toml): train one with `engram \
             train`, or name the folder that holds them",
            dir.display()
        )
        .into());
    }
    dirs.sort();
    let lines: Vec<RunLine> = dirs.iter().map(|d| read_run(d)).collect();
    print!("{}", table(&lines));
    Ok(ExitCode::SUCCESS)
}

fn find_runs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("config.toml").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_runs(&path, depth + 1, out);
        }
    }
}

/// The last row of a CSV as (header, values).
fn last_row(path: &Path) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let last = lines.rfind(|l| !l.trim().is_empty())?;
    Some(
        header
            .iter()
            .zip(last.split(','))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect(),
    )
}

fn column(row: &Option<Vec<(String, String)>>, name: &str) -> Option<f64> {
    row.as_ref()?
        .iter()
        .find(|(h, _)| h == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// The best `mean_return` of evals.csv.
fn best_eval_in_csv(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let index = lines.next()?.split(',').position(|c| c == "mean_return")?;
    lines
        .filter_map(|l| l.split(',').nth(index)?.parse::<f64>().ok())
        .fold(None, |best: Option<f64>, v| {
            Some(best.map_or(v, |b| b.max(v)))
        })
}

pub fn read_run(dir: &Path) -> RunLine {
    let config: toml::Table = std::fs::read_to_string(dir.join("config.toml"))
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let text = |key: &str| match config.get(key) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "?".into(),
    };
    let summary: Option<serde_json::Value> = std::fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut line = RunLine {
        path: dir.display().to_string(),
        env: text("env"),
        algo: text("algo"),
        seed: text("seed"),
        ..RunLine::default()
    };
    match summary {
        Some(s) => {
            line.steps = s["env_steps"].as_u64();
            line.wall_seconds = s["wall_seconds"].as_f64();
            line.best_eval = s["best_eval_mean"].as_f64();
            line.solved_at = s["steps_to_threshold"].as_u64();
            line.status = s["stop_reason"].as_str().unwrap_or("?").to_string();
        }
        None => {
            let row = last_row(&dir.join("metrics.csv"));
            line.steps = column(&row, "env_steps").map(|v| v as u64);
            line.wall_seconds = column(&row, "wall_seconds");
            line.best_eval = best_eval_in_csv(&dir.join("evals.csv"));
            line.status = "unfinished".into();
        }
    }
    line
}

fn wall(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1}s")
    } else if seconds < 7200.0 {
        format!("{:.1}m", seconds / 60.0)
    } else {
        format!("{:.1}h", seconds / 3600.0)
    }
}

/// Thousands separated by commas.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The listing, columns aligned.
pub fn table(lines: &[RunLine]) -> String {
    let dash = || "-".to_string();
    let mut rows = vec![[
        "RUN",
        "ENV",
        "ALGO",
        "SEED",
        "STEPS",
        "WALL",
        "BEST EVAL",
        "SOLVED AT",
        "STATUS",
    ]
    .map(String::from)];
    for l in lines {
        rows.push([
            l.path.clone(),
            l.env.clone(),
            l.algo.clone(),
            l.seed.clone(),
            l.steps.map(count).unwrap_or_else(dash),
            l.wall_seconds.map(wall).unwrap_or_else(dash),
            l.best_eval.map(|v| format!("{v:.2}")).unwrap_or_else(dash),
            l.solved_at.map(count).unwrap_or_else(dash),
            l.status.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                // Text left, numbers right.
                if (3..8).contains(&c) {
                    format!("{cell:>w$}", w = widths[c])
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(wall(3.26), "3.3s");
        assert_eq!(wall(600.0), "10.0m");
        assert_eq!(wall(36000.0), "10.0h");
    }
}
