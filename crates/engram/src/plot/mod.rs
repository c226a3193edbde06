//! Learning curves as pictures: `engram plot` and the `curve.png` every run writes at its end.
//!
//! Drawn by engram itself ([`surface`]: a raster canvas written as PNG, and SVG; [`font`]: a
//! built-in bitmap font), so that a picture needs no plotting library, Python or system font.
//! A run directory gives one curve; a multi-seed directory (`engram train --seeds`) gives the
//! mean across its seeds with a shaded band of one standard error; a folder of runs gives one
//! curve per run. The environment's reward threshold is a dashed line.

pub mod chart;
pub mod font;
pub mod surface;

use crate::runtime::run_dir::SEEDS_FILE;
pub use chart::{Chart, HLine, Series};
use std::path::{Path, PathBuf};

/// What the horizontal axis counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Steps,
    Episodes,
    Time,
}

impl XAxis {
    pub fn parse(text: &str) -> Result<XAxis, String> {
        match text {
            "steps" => Ok(XAxis::Steps),
            "episodes" => Ok(XAxis::Episodes),
            "time" => Ok(XAxis::Time),
            other => Err(format!(
                "unknown x axis `{other}`: choose steps, episodes or time"
            )),
        }
    }

    /// The column of `metrics.csv` (and `evals.csv`) it reads.
    fn column(self) -> &'static str {
        match self {
            XAxis::Steps => "env_steps",
            XAxis::Episodes => "episodes",
            XAxis::Time => "wall_seconds",
        }
    }

    fn label(self) -> &'static str {
        match self {
            XAxis::Steps => "env steps",
            XAxis::Episodes => "training episodes",
            XAxis::Time => "wall-clock seconds",
        }
    }
}

/// What the vertical axis shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum YAxis {
    /// The 100-episode mean training return (`metrics.csv`'s `mean_return`).
    Return,
    /// The greedy evaluations' mean return (`evals.csv`).
    Eval,
    /// Any column of `metrics.csv`.
    Metric(String),
}

impl YAxis {
    pub fn parse(text: &str) -> YAxis {
        match text {
            "return" => YAxis::Return,
            "eval" => YAxis::Eval,
            other => YAxis::Metric(other.to_string()),
        }
    }

    fn label(&self) -> String {
        match self {
            YAxis::Return => "return (100-episode mean)".into(),
            YAxis::Eval => "evaluation return (greedy)".into(),
            YAxis::Metric(m) => m.clone(),
        }
    }
}

/// A run directory, or a multi-seed directory and its seeds' run directories.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Run(PathBuf),
    Seeds { dir: PathBuf, seeds: Vec<PathBuf> },
}

impl Source {
    fn dir(&self) -> &Path {
        match self {
            Source::Run(d) => d,
            Source::Seeds { dir, .. } => dir,
        }
    }
}

fn is_run(dir: &Path) -> bool {
    dir.join("metrics.csv").is_file()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The runs `path` names: a run, a multi-seed directory, or the runs under a folder (up to
/// four levels deep).
pub fn find_runs(path: &Path) -> Result<Vec<Source>, String> {
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    let mut found = Vec::new();
    collect(path, 0, &mut found);
    if found.is_empty() {
        return Err(format!(
            "no runs in {}: a run directory holds metrics.csv (made by `engram train`); give run \
             directories, multi-seed directories or a folder that holds them",
            path.display()
        ));
    }
    Ok(found)
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<Source>) {
    if dir.join(SEEDS_FILE).is_file() {
        let seeds: Vec<PathBuf> = subdirs(dir)
            .into_iter()
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed_"))
                    && is_run(d)
            })
            .collect();
        if !seeds.is_empty() {
            out.push(Source::Seeds {
                dir: dir.to_path_buf(),
                seeds,
            });
        }
    } else if is_run(dir) {
        out.push(Source::Run(dir.to_path_buf()));
    } else if depth < 4 {
        for sub in subdirs(dir) {
            collect(&sub, depth + 1, out);
        }
    }
}

/// A CSV file of the run: header and numeric cells (`None`: empty or not a number).
type Table = (Vec<String>, Vec<Vec<Option<f64>>>);

fn read_table(path: &Path) -> Result<Table, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect()
        })
        .collect();
    Ok((header, rows))
}

/// The `(x, y)` points of one run directory.
pub fn run_points(dir: &Path, x: XAxis, y: &YAxis) -> Result<Vec<(f64, f64)>, String> {
    let (file, y_column) = match y {
        YAxis::Return => ("metrics.csv", "mean_return"),
        YAxis::Eval => ("evals.csv", "mean_return"),
        YAxis::Metric(m) => ("metrics.csv", m.as_str()),
    };
    if matches!(y, YAxis::Eval) && x == XAxis::Episodes {
        return Err(
            "evaluations are logged by env steps and time, not by training episodes: use --x steps or --x time with --y eval"
                .into(),
        );
    }
    let path = dir.join(file);
    let (header, rows) = read_table(&path)?;
    let find = |name: &str| header.iter().position(|c| c == name);
    let Some(yi) = find(y_column) else {
        if matches!(y, YAxis::Eval) {
            return Ok(Vec::new());
        }
        let known: Vec<&str> = header
            .iter()
            .map(|s| s.as_str())
            .filter(|c| !["env_steps", "wall_seconds"].contains(c))
            .collect();
        return Err(format!(
            "{}: no metric `{y_column}`; choose --y return, eval or one of its columns: {}",
            path.display(),
            known.join(", ")
        ));
    };
    let xi = find(x.column())
        .ok_or_else(|| format!("{}: no column `{}`", path.display(), x.column()))?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get(xi).copied()??, r.get(yi).copied()??)))
        .collect())
}

/// The mean and standard error across curves with different x values: on a grid of at most
/// `max_points` x values (the union of the curves' x values, thinned evenly when larger),
/// each curve contributes its last value at or before the grid point, from its first point
/// to its last. Returns `(x, mean, standard error, n)` (standard error 0 for n = 1).
pub fn mean_and_stderr(
    curves: &[Vec<(f64, f64)>],
    max_points: usize,
) -> Vec<(f64, f64, f64, usize)> {
    let mut grid: Vec<f64> = curves.iter().flatten().map(|p| p.0).collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    if grid.len() > max_points && max_points > 1 {
        let n = grid.len();
        grid = (0..max_points)
            .map(|k| grid[k * (n - 1) / (max_points - 1)])
            .collect();
        grid.dedup();
    }
    let mut cursors = vec![0usize; curves.len()];
    let mut out = Vec::with_capacity(grid.len());
    for &x in &grid {
        let (mut n, mut mean, mut m2) = (0usize, 0.0f64, 0.0f64);
        for (curve, at) in curves.iter().zip(cursors.iter_mut()) {
            let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
                continue;
            };
            if x < first.0 || x > last.0 {
                continue;
            }
            while *at + 1 < curve.len() && curve[*at + 1].0 <= x {
                *at += 1;
            }
            // Welford's update.
            let v = curve[*at].1;
            n += 1;
            let d = v - mean;
            mean += d / n as f64;
            m2 += d * (v - mean);
        }
        if n > 0 {
            let se = if n > 1 {
                (m2 / (n - 1) as f64).sqrt() / (n as f64).sqrt()
            } else {
                0.0
            };
            out.push((x, mean, se, n));
        }
    }
    out
}

/// A multi-seed directory's per-step mean and standard error of a `metrics.csv` column, from
/// its `curves.csv` (the same averages, computed when the seeds ended) instead of every seed's
/// file, when that is up to date: newer than every seed's `metrics.csv`. At most 2,000 points,
/// as [`mean_and_stderr`] thins them; `n` is 2 where a standard error exists, else 1.
fn from_curves_csv(
    dir: &Path,
    seeds: &[PathBuf],
    x: XAxis,
    y: &YAxis,
) -> Option<Vec<(f64, f64, f64, usize)>> {
    let column = match y {
        YAxis::Return => "mean_return",
        YAxis::Metric(m) => m.as_str(),
        YAxis::Eval => return None,
    };
    if x != XAxis::Steps {
        return None;
    }
    let curves = dir.join(crate::runtime::run_dir::CURVES_CSV);
    let written = std::fs::metadata(&curves).and_then(|m| m.modified()).ok()?;
    let stale = seeds.iter().any(|d| {
        std::fs::metadata(d.join("metrics.csv"))
            .and_then(|m| m.modified())
            .map_or(true, |t| t > written)
    });
    if stale {
        return None;
    }
    let (header, rows) = read_table(&curves).ok()?;
    let find = |name: &str| header.iter().position(|c| c == name);
    if header.first().map(String::as_str) != Some("env_steps") {
        return None;
    }
    let mean = find(&format!("{column}_mean"))?;
    let stderr = find(&format!("{column}_stderr"))?;
    let mut points: Vec<(f64, f64, f64, usize)> = rows
        .iter()
        .filter_map(|r| {
            let (x, m) = (r.first().copied()??, r.get(mean).copied()??);
            let se = r.get(stderr).copied().flatten();
            Some((x, m, se.unwrap_or(0.0), if se.is_some() { 2 } else { 1 }))
        })
        .collect();
    const MAX_POINTS: usize = 2000;
    if points.len() > MAX_POINTS {
        let n = points.len();
        points = (0..MAX_POINTS)
            .map(|k| points[k * (n - 1) / (MAX_POINTS - 1)])
            .collect();
        points.dedup_by(|a, b| a.0 == b.0);
    }
    Some(points)
}

/// The environment id of a run directory (from its `config.toml`).
fn run_env(dir: &Path) -> Option<String> {
    let table: Option<toml::Table> = std::fs::read_to_string(dir.join("config.toml"))
        .ok()
        .and_then(|t| t.parse().ok());
    table
        .as_ref()
        .and_then(|t| t.get("env"))
        .and_then(|v| v.as_str())
        .map(String::from)
}

/// The chart of the runs at `paths` (see [`find_runs`]).
pub fn chart_of(paths: &[PathBuf], x: XAxis, y: &YAxis) -> Result<Chart, String> {
    let mut sources = Vec::new();
    for p in paths {
        sources.extend(find_runs(p)?);
    }
    chart_of_sources(&sources, x, y)
}

/// The chart of `sources`: one curve each (a multi-seed directory: the mean with a band of one
/// standard error), and the reward thresholds of their environments.
pub fn chart_of_sources(sources: &[Source], x: XAxis, y: &YAxis) -> Result<Chart, String> {
    let mut envs: Vec<String> = Vec::new();
    let mut series = Vec::new();
    let names = labels(sources);
    for (source, name) in sources.iter().zip(names) {
        let first_run = match source {
            Source::Run(d) => d.clone(),
            Source::Seeds { seeds, .. } => seeds[0].clone(),
        };
        if let Some(env) = run_env(&first_run) {
            if !envs.contains(&env) {
                envs.push(env);
            }
        }
        match source {
            Source::Run(dir) => series.push(Series {
                label: name,
                points: run_points(dir, x, y)?,
                band: Vec::new(),
            }),
            Source::Seeds { dir, seeds } => {
                let stats = match from_curves_csv(dir, seeds, x, y) {
                    Some(stats) => stats,
                    None => {
                        let curves = seeds
                            .iter()
                            .map(|d| run_points(d, x, y))
                            .collect::<Result<Vec<_>, _>>()?;
                        mean_and_stderr(&curves, 2000)
                    }
                };
                series.push(Series {
                    label: format!("{name} (mean of {} seeds, band: 1 s.e.)", seeds.len()),
                    points: stats.iter().map(|s| (s.0, s.1)).collect(),
                    band: stats
                        .iter()
                        .filter(|s| s.3 > 1)
                        .map(|s| (s.0, s.1 - s.2, s.1 + s.2))
                        .collect(),
                });
            }
        }
    }
    if series.iter().all(|s| s.points.is_empty()) {
        let what = match y {
            YAxis::Eval => {
                "evaluations (evals.csv is empty: evaluations run every eval_interval steps)"
            }
            _ => "logged rows with this metric yet",
        };
        return Err(format!(
            "nothing to plot in {}: no {what}",
            sources
                .iter()
                .map(|s| s.dir().display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut chart = Chart::new(&envs.join(", "), x.label(), &y.label());
    if matches!(y, YAxis::Return | YAxis::Eval) {
        for env in &envs {
            if let Some(t) = engram_env::registry::spec(env)
                .ok()
                .and_then(|s| s.reward_threshold)
            {
                let label = if envs.len() > 1 {
                    format!("{env} threshold {t}")
                } else {
                    format!("threshold {t}")
                };
                chart.hlines.push(HLine { y: t, label });
            }
        }
    }
    if series.len() == 1 && sources.len() == 1 && matches!(sources[0], Source::Run(_)) {
        series[0].label.clear();
    }
    chart.series = series;
    Ok(chart)
}

/// Legend names: the directories' last components when they differ, else their paths.
fn labels(sources: &[Source]) -> Vec<String> {
    let last: Vec<String> = sources
        .iter()
        .map(|s| {
            s.dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| s.dir().display().to_string())
        })
        .collect();
    let mut unique = last.clone();
    unique.sort();
    unique.dedup();
    if unique.len() == last.len() {
        last
    } else {
        sources
            .iter()
            .map(|s| s.dir().display().to_string())
            .collect()
    }
}

/// The file every run writes at its end.
pub const CURVE_PNG: &str = "curve.png";

/// Writes `curve.png` into a run or multi-seed directory: the training return and, when the
/// run evaluated, the evaluation return, against env steps. `Ok(false)`: nothing to draw (no
/// episode ended, no evaluation).
pub fn write_run_curve(dir: &Path) -> Result<bool, String> {
    let sources = find_runs(dir)?;
    let name = |s: &Series, what: &str| {
        if s.label.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {}", s.label)
        }
    };
    let train = chart_of_sources(&sources, XAxis::Steps, &YAxis::Return).ok();
    let eval = chart_of_sources(&sources, XAxis::Steps, &YAxis::Eval).ok();
    let chart = match (train, eval) {
        (None, None) => return Ok(false),
        (Some(chart), None) | (None, Some(chart)) => chart,
        (Some(mut chart), Some(eval)) => {
            let train = std::mem::take(&mut chart.series);
            chart.series = train
                .iter()
                .map(|s| Series {
                    label: name(s, "training (100-episode mean)"),
                    ..s.clone()
                })
                .chain(eval.series.iter().map(|s| Series {
                    label: name(s, "evaluation (greedy)"),
                    ..s.clone()
                }))
                .collect();
            chart.y_label = "return".into();
            chart
        }
    };
    chart.write(&dir.join(CURVE_PNG))?;
    Ok(true)
}
