//! `curves.csv`: the mean and standard error across seeds of every numeric column the seeds'
//! runs logged, per env step (from `metrics.csv`) or, for episode budgets, per episode (from
//! `episodes.csv`).
//!
//! **Alignment.** The rows are the union of the index values the seeds logged (env steps or
//! episode numbers). At each, a seed contributes its latest row at or before it (its last
//! value carried forward), from its first row to its last, not beyond: a seed that stopped
//! early (threshold, failure) leaves the later rows, and the `seeds` column says how many
//! seeds each row averages. Algorithms that log on a fixed schedule (everything but A3C,
//! whose asynchronous workers log at slightly different steps) give every seed the same grid,
//! and then each row is simply the seeds' rows at that step. Empty cells (a metric not
//! measured yet, no finished episode yet) count for nothing: each cell's mean and standard
//! error use the seeds that measured it.
//!
//! **Episodes.** Per episode k: `env_steps`, `return` and `length` of the seeds' k-th
//! episodes, and each metrics column as of the first metrics row logged once k episodes had
//! ended (with `log_interval = 1`, the step the episode ended at).
//!
//! The standard error is `s / sqrt(n)` with the sample standard deviation `s` (n - 1 in the
//! denominator); empty for n < 2. Means and variances are accumulated with Welford's update,
//! merged across threads with Chan et al.'s formula, so that thousands of seeds do not lose
//! digits to cancellation.

use crate::runtime::checkpoint::write_atomic;
use crate::runtime::metrics::{format_metric, LoggedRows};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use crate::runtime::run_dir::CURVES_CSV;

/// What a curve is indexed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Rows of `metrics.csv`, by `env_steps`.
    Steps,
    /// Rows of `episodes.csv`, by `episode`, joined with `metrics.csv`.
    Episodes,
}

impl Axis {
    pub fn index_column(self) -> &'static str {
        match self {
            Axis::Steps => "env_steps",
            Axis::Episodes => "episode",
        }
    }
}

/// One seed's rows: ascending index values and, per row, its cells by column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeedTable {
    pub columns: Vec<String>,
    pub index: Vec<u64>,
    pub rows: Vec<Vec<Option<f64>>>,
}

/// Rows of numeric cells (`None`: empty or not a number).
type Rows = Vec<Vec<Option<f64>>>;

/// A CSV written by the run (`CsvLog`): its header and numeric cells. A missing file reads as
/// an empty table.
fn read_csv(path: &Path) -> std::io::Result<(Vec<String>, Rows)> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let columns: Vec<String> = header.split(',').map(String::from).collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut row: Vec<Option<f64>> = line
                .split(',')
                .take(columns.len())
                .map(|cell| cell.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            // A row a crash cut short has fewer cells.
            row.resize(columns.len(), None);
            row
        })
        .collect();
    Ok((columns, rows))
}

/// A run's `metrics.csv` indexed by `env_steps` (rows without one are dropped).
pub fn step_table(run_dir: &Path) -> std::io::Result<SeedTable> {
    let (columns, rows) = read_csv(&run_dir.join("metrics.csv"))?;
    Ok(indexed(columns, rows, "env_steps"))
}

/// Splits the index column off a CSV's columns; rows kept in ascending index order.
fn indexed(columns: Vec<String>, rows: Rows, index: &str) -> SeedTable {
    let Some(at) = columns.iter().position(|c| c == index) else {
        return SeedTable::default();
    };
    let mut table = SeedTable {
        columns: columns
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, c)| c.clone())
            .collect(),
        ..SeedTable::default()
    };
    for mut row in rows {
        let Some(value) = row[at] else {
            continue;
        };
        if value < 0.0 || table.index.last().is_some_and(|&last| value as u64 <= last) {
            // Not ascending: a damaged file. Keep the rows that are.
            continue;
        }
        row.remove(at);
        table.index.push(value as u64);
        table.rows.push(row);
    }
    table
}

/// A run's episodes (`episodes.csv`) indexed by episode number, each with the metrics as of
/// the first metrics row logged once that many episodes had ended.
pub fn episode_table(run_dir: &Path) -> std::io::Result<SeedTable> {
    let (columns, rows) = read_csv(&run_dir.join(crate::runtime::monitor::EPISODES_CSV))?;
    let mut table = indexed(columns, rows, "episode");
    let (m_columns, m_rows) = read_csv(&run_dir.join("metrics.csv"))?;
    let Some(episodes_at) = m_columns.iter().position(|c| c == "episodes") else {
        return Ok(table);
    };
    // The metrics columns that add something: not the counters episodes.csv has already.
    let joined: Vec<usize> = (0..m_columns.len())
        .filter(|&i| m_columns[i] != "env_steps" && m_columns[i] != "episodes")
        .collect();
    table
        .columns
        .extend(joined.iter().map(|&i| m_columns[i].clone()));
    let mut next = 0;
    for (k, row) in table.index.iter().zip(table.rows.iter_mut()) {
        while next < m_rows.len() && m_rows[next][episodes_at].is_none_or(|e| e < *k as f64) {
            next += 1;
        }
        let metrics = m_rows.get(next);
        row.extend(joined.iter().map(|&i| metrics.and_then(|r| r[i])));
    }
    Ok(table)
}

/// A running mean and sum of squared deviations (Welford).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Both samples together (Chan, Golub and LeVeque's pairwise update).
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n as f64 / n as f64;
        self.m2 += other.m2 + delta * delta * (self.n as f64 * other.n as f64) / n as f64;
        self.n = n;
    }

    /// The standard error of the mean, `s / sqrt(n)` with the sample standard deviation.
    pub fn stderr(&self) -> Option<f64> {
        (self.n >= 2).then(|| (self.m2 / (self.n - 1) as f64).sqrt() / (self.n as f64).sqrt())
    }
}

/// The curves being accumulated over seeds.
#[derive(Clone, Debug)]
pub struct Curves {
    pub axis: Axis,
    pub grid: Vec<u64>,
    pub columns: Vec<String>,
    /// Seeds contributing a row at each grid point.
    pub seeds: Vec<u64>,
    /// `cells[point * columns.len() + column]`.
    pub cells: Vec<Moments>,
}

impl Curves {
    pub fn new(axis: Axis, grid: Vec<u64>, columns: Vec<String>) -> Curves {
        let cells = vec![Moments::default(); grid.len() * columns.len()];
        Curves {
            axis,
            seeds: vec![0; grid.len()],
            grid,
            columns,
            cells,
        }
    }

    /// Adds one seed's table: its latest row at or before each grid point, from its first
    /// row to its last. Columns the curves do not have are ignored.
    pub fn add(&mut self, table: &SeedTable) {
        let (Some(&first), Some(&last)) = (table.index.first(), table.index.last()) else {
            return;
        };
        let width = self.columns.len();
        let map: Vec<Option<usize>> = table
            .columns
            .iter()
            .map(|c| self.columns.iter().position(|k| k == c))
            .collect();
        let start = self.grid.partition_point(|&g| g < first);
        let mut row = 0;
        for (p, &g) in self.grid.iter().enumerate().skip(start) {
            if g > last {
                break;
            }
            while row + 1 < table.index.len() && table.index[row + 1] <= g {
                row += 1;
            }
            self.seeds[p] += 1;
            for (cell, column) in table.rows[row].iter().zip(&map) {
                if let (Some(v), Some(c)) = (cell, column) {
                    self.cells[p * width + c].push(*v);
                }
            }
        }
    }

    /// Adds curves accumulated over other seeds, on the same grid and columns.
    pub fn merge(&mut self, other: &Curves) {
        for (a, b) in self.seeds.iter_mut().zip(&other.seeds) {
            *a += b;
        }
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            a.merge(b);
        }
    }

    pub fn to_csv(&self) -> String {
        let mut out = format!("{},seeds", self.axis.index_column());
        for c in &self.columns {
            out.push_str(&format!(",{c}_mean,{c}_stderr"));
        }
        out.push('\n');
        let width = self.columns.len();
        for (p, g) in self.grid.iter().enumerate() {
            out.push_str(&format!("{g},{}", self.seeds[p]));
            for m in &self.cells[p * width..(p + 1) * width] {
                out.push(',');
                if m.n > 0 {
                    out.push_str(&format_metric(m.mean));
                }
                out.push(',');
                if let Some(se) = m.stderr() {
                    out.push_str(&format_metric(se));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Reads the runs in `dirs` on `threads` threads and writes `out/curves.csv`; returns its
/// path. Two passes over the files: the index columns give the grid, then each seed's rows
/// are added (no seed's whole table is held beyond its turn, whatever the number of seeds).
pub fn write_curves(
    out: &Path,
    dirs: &[PathBuf],
    axis: Axis,
    threads: usize,
) -> std::io::Result<PathBuf> {
    let read = |dir: &Path| match axis {
        Axis::Steps => step_table(dir),
        Axis::Episodes => episode_table(dir),
    };
    let chunk = chunk_size(dirs.len(), threads);
    // Pass 1: the grid and the columns (in the order the seeds first list them).
    let firsts: Vec<std::io::Result<(BTreeSet<u64>, Vec<String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut grid = BTreeSet::new();
                    let mut columns: Vec<String> = Vec::new();
                    for dir in part {
                        let table = index_only(dir, axis)?;
                        grid.extend(table.0);
                        for c in table.1 {
                            if !columns.contains(&c) {
                                columns.push(c);
                            }
                        }
                    }
                    Ok((grid, columns))
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let mut grid = BTreeSet::new();
    let mut columns: Vec<String> = Vec::new();
    for part in firsts {
        let (g, c) = part?;
        grid.extend(g);
        for c in c {
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
    }
    let grid: Vec<u64> = grid.into_iter().collect();
    // Pass 2: every seed's rows, each thread on its own share of the seeds.
    let parts: Vec<std::io::Result<Curves>> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .chunks(chunk)
            .map(|part| {
                let (grid, columns) = (grid.clone(), columns.clone());
                s.spawn(move || {
                    let mut curves = Curves::new(axis, grid, columns);
                    for dir in part {
                        curves.add(&read(dir)?);
                    }
                    Ok(curves)
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let mut curves = Curves::new(axis, grid, columns);
    for part in parts {
        curves.merge(&part?);
    }
    write_curves_csv(out, &curves)
}

/// Writes `out/curves.csv`; returns its path.
pub fn write_curves_csv(out: &Path, curves: &Curves) -> std::io::Result<PathBuf> {
    let path = out.join(CURVES_CSV);
    write_atomic(&path, curves.to_csv().as_bytes())?;
    Ok(path)
}

/// Seeds per share of [`write_curves`]' threads (the shares are added up in order).
pub fn chunk_size(seeds: usize, threads: usize) -> usize {
    let threads = threads.clamp(1, seeds.max(1));
    seeds.div_ceil(threads).max(1)
}

/// Per-step curves accumulated while the seeds run, from the rows each run kept in memory
/// ([`LoggedRows`]), so that thousands of seeds' `metrics.csv` are not read back at the end.
/// The result is [`write_curves`]' bit for bit: the seeds are added in the same shares and
/// order (a seed that finishes before its predecessors waits in `pending`), and the cells are
/// the numbers the files read back as. It applies when every seed logged the same steps and
/// columns (any algorithm with a fixed schedule); otherwise [`MemoryCurves::finish`] gives
/// nothing and the caller reads the files.
#[derive(Debug)]
pub struct MemoryCurves {
    seeds: usize,
    chunk: usize,
    shares: Vec<Share>,
    /// The first seed's grid and columns, which every other seed must have too.
    shape: Option<(Vec<u64>, Vec<String>)>,
    added: usize,
    unusable: bool,
}

#[derive(Debug, Default)]
struct Share {
    curves: Option<Curves>,
    /// Position (in ascending seed order) of the next seed to add.
    next: usize,
    pending: std::collections::BTreeMap<usize, SeedTable>,
}

impl MemoryCurves {
    /// For `seeds` seeds, as [`write_curves`] on `threads` threads would share them.
    pub fn new(seeds: usize, threads: usize) -> MemoryCurves {
        let chunk = chunk_size(seeds, threads);
        let shares = (0..seeds.div_ceil(chunk))
            .map(|k| Share {
                next: k * chunk,
                ..Share::default()
            })
            .collect();
        MemoryCurves {
            seeds,
            chunk,
            shares,
            shape: None,
            added: 0,
            unusable: false,
        }
    }

    /// The rows of the seed at `position` (ascending seed order); None: it kept none usable.
    pub fn add(&mut self, position: usize, rows: Option<LoggedRows>) {
        if self.unusable {
            return;
        }
        let table = match rows {
            Some(rows) if !rows.inconsistent && !rows.index.is_empty() => SeedTable {
                columns: rows.columns,
                index: rows.index,
                rows: rows.rows,
            },
            _ => return self.give_up(),
        };
        match &self.shape {
            None => self.shape = Some((table.index.clone(), table.columns.clone())),
            Some((grid, columns)) if *grid == table.index && *columns == table.columns => {}
            Some(_) => return self.give_up(),
        }
        let Some(share) = self.shares.get_mut(position / self.chunk) else {
            return self.give_up();
        };
        share.pending.insert(position, table);
        let (grid, columns) = self.shape.clone().unwrap_or_default();
        while let Some(table) = share.pending.remove(&share.next) {
            share
                .curves
                .get_or_insert_with(|| Curves::new(Axis::Steps, grid.clone(), columns.clone()))
                .add(&table);
            share.next += 1;
            self.added += 1;
        }
    }

    fn give_up(&mut self) {
        self.unusable = true;
        self.shares.clear();
    }

    /// The curves, when every seed was added.
    pub fn finish(self) -> Option<Curves> {
        if self.unusable || self.added != self.seeds {
            return None;
        }
        let (grid, columns) = self.shape?;
        let mut curves = Curves::new(Axis::Steps, grid, columns);
        for share in &self.shares {
            curves.merge(share.curves.as_ref()?);
        }
        Some(curves)
    }
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, std::io::Result<T>>) -> std::io::Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("a curves thread panicked")))
}

/// A run's index values and value columns, without parsing the other cells.
fn index_only(dir: &Path, axis: Axis) -> std::io::Result<(Vec<u64>, Vec<String>)> {
    if axis == Axis::Episodes {
        // Episode tables join two files: read them whole (their columns depend on both).
        let t = episode_table(dir)?;
        return Ok((t.index, t.columns));
    }
    let text = match std::fs::read_to_string(dir.join("metrics.csv")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let names: Vec<&str> = header.split(',').collect();
    let Some(at) = names.iter().position(|c| *c == "env_steps") else {
        return Ok((Vec::new(), Vec::new()));
    };
    let index = lines
        .filter_map(|l| l.split(',').nth(at)?.parse::<u64>().ok())
        .collect();
    let columns = names
        .iter()
        .filter(|c| **c != "env_steps")
        .map(|c| c.to_string())
        .collect();
    Ok((index, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: &[(u64, &[Option<f64>])]) -> SeedTable {
        SeedTable {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            index: rows.iter().map(|r| r.0).collect(),
            rows: rows.iter().map(|r| r.1.to_vec()).collect(),
        }
    }

    #[test]
    fn moments_give_the_mean_and_the_standard_error_with_n_minus_1() {
        let mut m = Moments::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.push(x);
        }
        // Sample variance 32/7; standard error sqrt(32/7)/sqrt(8).
        assert_eq!(m.mean, 5.0);
        let se = m.stderr().unwrap();
        assert!(
            (se - (32.0f64 / 7.0).sqrt() / 8f64.sqrt()).abs() < 1e-12,
            "{se}"
        );
        // Split in two and merged: the same.
        let (mut a, mut b) = (Moments::default(), Moments::default());
        for x in [2.0, 4.0, 4.0] {
            a.push(x);
        }
        for x in [4.0, 5.0, 5.0, 7.0, 9.0] {
            b.push(x);
        }
        a.merge(&b);
        assert!((a.mean - 5.0).abs() < 1e-12 && (a.stderr().unwrap() - se).abs() < 1e-12);
        let mut one = Moments::default();
        one.push(3.0);
        assert_eq!(one.stderr(), None, "one seed has no standard error");
        // Large values with a small spread keep their digits.
        let mut big = Moments::default();
        for x in [1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0] {
            big.push(x);
        }
        assert!((big.stderr().unwrap() - 1.0 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn equal_grids_average_row_by_row() {
        let cols = ["reward", "optimal_action"];
        let a = table(
            &cols,
            &[(1, &[Some(1.0), Some(0.0)]), (2, &[Some(2.0), Some(1.0)])],
        );
        let b = table(
            &cols,
            &[(1, &[Some(3.0), Some(1.0)]), (2, &[Some(4.0), Some(1.0)])],
        );
        let c = table(
            &cols,
            &[(1, &[Some(5.0), Some(1.0)]), (2, &[Some(0.0), Some(1.0)])],
        );
        let mut curves = Curves::new(
            Axis::Steps,
            vec![1, 2],
            cols.iter().map(|c| c.to_string()).collect(),
        );
        for t in [&a, &b, &c] {
            curves.add(t);
        }
        let csv = curves.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "env_steps,seeds,reward_mean,reward_stderr,optimal_action_mean,optimal_action_stderr"
        );
        // Step 1: rewards 1, 3, 5: mean 3, s = 2, se = 2/sqrt(3); optimal 0, 1, 1: mean 2/3,
        // s = sqrt(1/3), se = 1/3.
        let cells: Vec<f64> = lines[1].split(',').map(|c| c.parse().unwrap()).collect();
        assert_eq!(cells[..2], [1.0, 3.0]);
        assert!((cells[2] - 3.0).abs() < 1e-6);
        assert!((cells[3] - 2.0 / 3f64.sqrt()).abs() < 1e-6);
        assert!((cells[4] - 2.0 / 3.0).abs() < 1e-6);
        assert!((cells[5] - 1.0 / 3.0).abs() < 1e-6);
        // Step 2: optimal 1, 1, 1: standard error 0.
        assert!(lines[2].ends_with(",1.000000,0.000000"), "{}", lines[2]);
    }

    #[test]
    fn other_grids_carry_the_last_value_and_end_with_the_seed() {
        let a = table(
            &["r"],
            &[(10, &[Some(1.0)]), (20, &[Some(2.0)]), (30, &[Some(3.0)])],
        );
        // Logged at other steps, stopped at 25, and no value yet at its first row.
        let b = table(&["r"], &[(15, &[None]), (25, &[Some(5.0)])]);
        let mut curves = Curves::new(Axis::Steps, vec![10, 15, 20, 25, 30], vec!["r".into()]);
        curves.add(&a);
        curves.add(&b);
        assert_eq!(curves.seeds, vec![1, 2, 2, 2, 1]);
        let means: Vec<f64> = curves.cells.iter().map(|m| m.mean).collect();
        let counts: Vec<u64> = curves.cells.iter().map(|m| m.n).collect();
        // 15: a carries 1, b has no value; 20: a 2, b carries its empty cell; 25: a 2, b 5.
        assert_eq!(counts, vec![1, 1, 1, 2, 1]);
        assert_eq!(means, vec![1.0, 1.0, 2.0, 3.5, 3.0]);
        let csv = curves.to_csv();
        assert!(csv.contains("\n15,2,1.000000,\n"), "{csv}");
    }

    #[test]
    fn episode_tables_join_the_metrics_row_logged_once_the_episode_ended() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("episodes.csv"),
            "episode,env_steps,return,length\n1,0,-3.0,3\n2,3,-2.0,2\n3,5,-1.0,1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("metrics.csv"),
            "env_steps,wall_seconds,episodes,updates,mean_return,mean_length,rms,steps_per_second\n\
             2,0.1,0,2,,,0.9,10\n4,0.2,1,4,-3,3,0.8,10\n6,0.3,3,6,-2,2,0.5,10\n",
        )
        .unwrap();
        let t = episode_table(dir.path()).unwrap();
        assert_eq!(t.index, vec![1, 2, 3]);
        assert_eq!(
            t.columns,
            [
                "env_steps",
                "return",
                "length",
                "wall_seconds",
                "updates",
                "mean_return",
                "mean_length",
                "rms",
                "steps_per_second"
            ]
        );
        let rms: Vec<Option<f64>> = t.rows.iter().map(|r| r[7]).collect();
        // Episode 1 ended by the row at step 4; episodes 2 and 3 by the row at step 6.
        assert_eq!(rms, vec![Some(0.8), Some(0.5), Some(0.5)]);
        let returns: Vec<Option<f64>> = t.rows.iter().map(|r| r[1]).collect();
        assert_eq!(returns, vec![Some(-3.0), Some(-2.0), Some(-1.0)]);
    }

    #[test]
    fn write_curves_reads_every_seed_in_parallel_and_writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for seed in 0..5u32 {
            let run = dir.path().join(format!("seed_{seed}"));
            std::fs::create_dir_all(&run).unwrap();
            let mut text = String::from("env_steps,episodes,mean_return,reward\n");
            for step in 1..=4u32 {
                text.push_str(&format!("{step},{step},,{}\n", seed * step));
            }
            std::fs::write(run.join("metrics.csv"), text).unwrap();
            dirs.push(run);
        }
        let path = write_curves(dir.path(), &dirs, Axis::Steps, 2).unwrap();
        let csv = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5, "{csv}");
        // Step 2: rewards 0, 2, 4, 6, 8: mean 4, s = sqrt(10), se = sqrt(2).
        let cells: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(cells[..2], ["2", "5"]);
        assert_eq!(cells[2], "2.000000");
        assert_eq!((cells[4], cells[5]), ("", ""), "no return measured: empty");
        assert_eq!(cells[6], "4.000000");
        assert!((cells[7].parse::<f64>().unwrap() - 2f64.sqrt()).abs() < 1e-6);
    }
}
