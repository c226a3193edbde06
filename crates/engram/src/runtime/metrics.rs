//! What a run measures: the training episodes' window, the named scalars each algorithm
//! reports per update (losses, KL, exploration rate, ...), the rows of `metrics.csv` built
//! from them, and the rows of `evals.csv`. The runtime holds no algorithm's columns: an
//! algorithm's metric names, in the order it first reports them, become its columns.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How a metric's values over the updates of one log interval become its row value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reduce {
    /// The mean over the interval's updates (losses, entropy, gradient norm).
    Mean,
    /// The value at the interval's last update (learning rate, exploration rate).
    Last,
}

/// One named scalar of one update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub reduce: Reduce,
}

impl Metric {
    pub fn mean(name: &'static str, value: f64) -> Metric {
        Metric {
            name,
            value,
            reduce: Reduce::Mean,
        }
    }

    pub fn last(name: &'static str, value: f64) -> Metric {
        Metric {
            name,
            value,
            reduce: Reduce::Last,
        }
    }
}

/// The metrics of the updates since the last row: saved in checkpoints, so that a run resumed
/// between two rows writes the same next row as one that never stopped. A NaN value means "not
/// measured in this update" (DQN's loss before learning starts): it registers the column but
/// counts for nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSum {
    /// `(name, reduce, sum or last value, updates that reported it)`, in the order first
    /// reported.
    pub values: Vec<(String, Reduce, f64, u64)>,
}

impl MetricsSum {
    pub fn add(&mut self, metrics: &[Metric]) {
        for m in metrics {
            let i = match self.values.iter().position(|(n, ..)| n == m.name) {
                Some(i) => i,
                None => {
                    self.values.push((m.name.to_string(), m.reduce, 0.0, 0));
                    self.values.len() - 1
                }
            };
            let entry = &mut self.values[i];
            if m.value.is_nan() {
                continue;
            }
            match entry.1 {
                Reduce::Mean => entry.2 += m.value,
                Reduce::Last => entry.2 = m.value,
            }
            entry.3 += 1;
        }
    }

    /// The row values (`None`: not measured since the last row), and the sum emptied for the
    /// next interval (names kept, so that every row has every column).
    pub fn take(&mut self) -> Vec<(String, Option<f64>)> {
        let out = self
            .values
            .iter()
            .map(|(name, reduce, v, n)| {
                let value = match (reduce, n) {
                    (_, 0) => None,
                    (Reduce::Mean, n) => Some(v / *n as f64),
                    (Reduce::Last, _) => Some(*v),
                };
                (name.clone(), value)
            })
            .collect();
        for (_, reduce, v, n) in &mut self.values {
            if *reduce == Reduce::Mean {
                *v = 0.0;
                *n = 0;
            }
        }
        out
    }
}

/// One row of `metrics.csv`: the run's columns, then the algorithm's, then throughput.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsRow {
    pub env_steps: u64,
    pub wall_seconds: f64,
    pub episodes: u64,
    pub updates: u64,
    /// Mean return of the last 100 training episodes (empty until one finished).
    pub mean_return: Option<f64>,
    pub mean_length: Option<f64>,
    /// The algorithm's named scalars (`None`: not measured in this interval).
    pub metrics: Vec<(String, Option<f64>)>,
    pub steps_per_second: f64,
}

impl MetricsRow {
    pub fn header(&self) -> String {
        let mut h = String::from("env_steps,wall_seconds,episodes,updates,mean_return,mean_length");
        for (name, _) in &self.metrics {
            h.push(',');
            h.push_str(name);
        }
        h.push_str(",steps_per_second");
        h
    }

    pub fn to_csv(&self) -> String {
        let mut line = Vec::new();
        self.write_csv(&mut line);
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Appends the CSV line to `out`, without `fmt` (a run may log every step).
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        push_u64(out, self.env_steps);
        out.push(b',');
        push_fixed(out, self.wall_seconds, 3);
        out.push(b',');
        push_u64(out, self.episodes);
        out.push(b',');
        push_u64(out, self.updates);
        for v in [self.mean_return, self.mean_length] {
            out.push(b',');
            if let Some(v) = v {
                push_fixed(out, v, 4);
            }
        }
        for (_, v) in &self.metrics {
            out.push(b',');
            if let Some(v) = v {
                push_metric(out, *v);
            }
        }
        out.push(b',');
        push_fixed(out, self.steps_per_second, 0);
    }

    /// A metric of this row by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| *v)
    }
}

/// A run's metrics rows kept in memory as `metrics.csv` has them (for `--seeds`' curves,
/// which would otherwise read every seed's file back): per row its `env_steps` and the other
/// columns' cells, each the number its text in the file reads back as ([`as_logged`]), so
/// that curves from memory equal curves from the files bit for bit. Rows whose
/// `env_steps` does not increase are left out, as a reader of the file leaves them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoggedRows {
    /// The header less `env_steps`.
    pub columns: Vec<String>,
    pub index: Vec<u64>,
    pub rows: Vec<Vec<Option<f64>>>,
    /// A row had other metric columns than the first: the file's header does not describe
    /// it, and these rows are not used (the file is read instead).
    pub inconsistent: bool,
}

impl LoggedRows {
    pub fn push(&mut self, row: &MetricsRow) {
        if self.inconsistent {
            return;
        }
        if self.index.is_empty() && self.columns.is_empty() {
            self.columns = row.header().split(',').skip(1).map(String::from).collect();
        } else {
            let names = &self.columns[5..self.columns.len() - 1];
            if names.len() != row.metrics.len()
                || names.iter().zip(&row.metrics).any(|(a, (b, _))| a != b)
            {
                self.inconsistent = true;
                return;
            }
        }
        if self.index.last().is_some_and(|&last| row.env_steps <= last) {
            return;
        }
        let mut cells = Vec::with_capacity(self.columns.len());
        cells.push(as_logged(row.wall_seconds, 3));
        cells.push(Some(row.episodes as f64));
        cells.push(Some(row.updates as f64));
        cells.push(row.mean_return.and_then(|v| as_logged(v, 4)));
        cells.push(row.mean_length.and_then(|v| as_logged(v, 4)));
        cells.extend(
            row.metrics
                .iter()
                .map(|(_, v)| v.and_then(metric_as_logged)),
        );
        cells.push(as_logged(row.steps_per_second, 0));
        self.index.push(row.env_steps);
        self.rows.push(cells);
    }
}

/// The number [`push_fixed`]`(v, decimals)`'s text reads back as (None: not finite, which a
/// reader of the CSV drops): the digits are `round(v * 10^decimals)`, and the parse of `n`
/// followed by `decimals` decimals is the correctly rounded `n / 10^decimals`, which one
/// division of two exact doubles also is.
pub fn as_logged(v: f64, decimals: usize) -> Option<f64> {
    const POW10: [f64; 7] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];
    let p = POW10[decimals.min(6)];
    let scaled = (v * p).round_ties_even();
    if scaled.is_nan() || scaled.abs() >= 9.0e15 || decimals > 6 {
        let mut text = Vec::new();
        push_fixed(&mut text, v, decimals);
        return parse_cell(&text);
    }
    let n = scaled.abs() / p;
    Some(if v.is_sign_negative() { -n } else { n })
}

/// The number [`push_metric`]`(v)`'s text reads back as.
pub fn metric_as_logged(v: f64) -> Option<f64> {
    if v != 0.0 && v.abs() < 1e-3 {
        let mut text = Vec::new();
        push_metric(&mut text, v);
        return parse_cell(&text);
    }
    as_logged(v, 6)
}

fn parse_cell(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Six significant digits, fixed or scientific by magnitude (learning rates are small).
pub fn format_metric(v: f64) -> String {
    let mut out = Vec::new();
    push_metric(&mut out, v);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends [`format_metric`]`(v)`.
pub fn push_metric(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    if v != 0.0 && v.abs() < 1e-3 {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{v:.6e}");
    } else {
        push_fixed(out, v, 6);
    }
}

/// "00" to "99": the digits of a number two at a time.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// Appends the decimal digits of `n`. Two digits per division, pushed byte by byte (a copy of
/// a few bytes through `memcpy` cost more: a tabular run writes two rows per episode).
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i] = DIGIT_PAIRS[pair];
        digits[i + 1] = DIGIT_PAIRS[pair + 1];
    }
    if n >= 10 {
        i -= 2;
        digits[i] = DIGIT_PAIRS[n as usize * 2];
        digits[i + 1] = DIGIT_PAIRS[n as usize * 2 + 1];
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    for &digit in &digits[i..] {
        out.push(digit);
    }
}

/// `x.round_ties_even()` without a call into libm (baseline x86-64 has no rounding
/// instruction): adding and taking away 2^52 rounds to a whole number, ties to even, exactly
/// for |x| < 2^52; the sign of a zero result may differ.
#[inline]
fn round_ties_even(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if x.abs() < TWO_52 {
        if x >= 0.0 {
            (x + TWO_52) - TWO_52
        } else {
            (x - TWO_52) + TWO_52
        }
    } else {
        x.round_ties_even()
    }
}

/// Appends `{v:.decimals$}`, fast: the digits of `round(v * 10^decimals)` as an integer when
/// that is exact (below 2^53; decimals <= 6), Rust's formatting otherwise. Rust's exact
/// decimal formatting costs about 300 ns a number (its slow path more), a fair part of a
/// bandit's whole step; this differs from it at most in the last digit, only for values
/// within one rounding of a tie.
pub fn push_fixed(out: &mut Vec<u8>, v: f64, decimals: usize) {
    const POW10: [f64; 7] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];
    let scaled = match POW10.get(decimals) {
        // Its sign is not used (that of `v` is).
        Some(p) => round_ties_even(v * p),
        None => f64::INFINITY,
    };
    // Also NaN and infinities, which the standard formatting spells.
    if scaled.is_nan() || scaled.abs() >= 9.0e15 {
        use std::io::Write;
        let _ = write!(out, "{v:.decimals$}");
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    let n = scaled.abs() as u64;
    let unit = 10u64.pow(decimals as u32);
    push_u64(out, n / unit);
    if decimals > 0 {
        out.push(b'.');
        let mut frac = n % unit;
        let mut digits = [b'0'; 6];
        for d in digits[..decimals].iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        for &digit in &digits[..decimals] {
            out.push(digit);
        }
    }
}

/// The returns and lengths of the last `capacity` finished episodes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpisodeWindow {
    capacity: usize,
    returns: VecDeque<f64>,
    lengths: VecDeque<u64>,
    /// The highest mean of a full window so far: POPGym's MMER (maximum mean episodic return).
    #[serde(default)]
    max_full_mean: Option<f64>,
    /// Running sums of the returns and of their magnitudes, resynchronised now and then: they
    /// tell when a full window cannot hold a new maximum mean, which then is not summed
    /// exactly (tabular runs end an episode every few steps).
    #[serde(skip)]
    running: Option<RunningSums>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct RunningSums {
    sum: f64,
    sum_abs: f64,
    /// Updates since the sums were last computed from scratch.
    updates: u32,
}

impl RunningSums {
    fn of(returns: &VecDeque<f64>) -> RunningSums {
        RunningSums {
            sum: returns.iter().sum(),
            sum_abs: returns.iter().map(|r| r.abs()).sum(),
            updates: 0,
        }
    }
}

/// Equal windows hold the same episodes and maximum (the running sums are a cache).
impl PartialEq for EpisodeWindow {
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity
            && self.returns == other.returns
            && self.lengths == other.lengths
            && self.max_full_mean == other.max_full_mean
    }
}

impl EpisodeWindow {
    pub fn new(capacity: usize) -> Self {
        EpisodeWindow {
            capacity,
            returns: VecDeque::new(),
            lengths: VecDeque::new(),
            max_full_mean: None,
            running: None,
        }
    }

    pub fn push(&mut self, episode_return: f64, length: u64) {
        let mut dropped = 0.0;
        if self.returns.len() == self.capacity {
            dropped = self.returns.pop_front().unwrap_or(0.0);
            self.lengths.pop_front();
        }
        self.returns.push_back(episode_return);
        self.lengths.push_back(length);
        let running = match self.running {
            Some(r) if r.updates < 64 && episode_return.is_finite() && dropped.is_finite() => {
                RunningSums {
                    sum: r.sum - dropped + episode_return,
                    sum_abs: r.sum_abs - dropped.abs() + episode_return.abs(),
                    updates: r.updates + 1,
                }
            }
            _ => RunningSums::of(&self.returns),
        };
        self.running = Some(running);
        if !self.is_full() {
            return;
        }
        // The running sum is within far less than this of the exact one (64 updates of
        // rounding error each, against a margin of 1e-9 of the magnitudes).
        let margin = 1e-9 * (running.sum_abs + 1.0);
        let may_be_new_max = match self.max_full_mean {
            Some(max) => running.sum + margin >= max * self.capacity as f64 || !max.is_finite(),
            None => true,
        };
        if may_be_new_max || !running.sum.is_finite() {
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

    /// Whether `mean_return()` is at least `threshold`: the window is summed only when the
    /// running sum says it may be (a tabular run checks the threshold at every episode).
    pub fn mean_return_reaches(&self, threshold: f64) -> bool {
        if let Some(running) = self.running {
            // As for the maximum mean in `push`: the running sum is within far less than
            // this margin of the exact one.
            let margin = 1e-9 * (running.sum_abs + 1.0);
            let upper = (running.sum + margin) / self.returns.len().max(1) as f64;
            if upper.is_finite() && upper < threshold {
                return false;
            }
        }
        self.mean_return().is_some_and(|mean| mean >= threshold)
    }

    pub fn mean_return(&self) -> Option<f64> {
        (!self.returns.is_empty())
            .then(|| self.returns.iter().sum::<f64>() / self.returns.len() as f64)
    }

    pub fn mean_length(&self) -> Option<f64> {
        (!self.lengths.is_empty()).then(|| {
            self.lengths.iter().map(|&l| l as f64).sum::<f64>() / self.lengths.len() as f64
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_values_are_what_the_text_reads_back_as() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values = vec![
            0.0, -0.0, 0.5, -0.5, 1e-3, 2.5e-7, -3e-4, 1e15, -9e15, 123.4565,
        ];
        values.extend([f64::NAN, f64::INFINITY, 0.0004999995, 0.0005]);
        for _ in 0..4_000 {
            let bits = next();
            let scale = 10f64.powi((bits % 19) as i32 - 9);
            values.push((bits >> 11) as f64 / (1u64 << 53) as f64 * scale - scale / 2.0);
            values.push(f64::from_bits(next()));
        }
        let read = |text: &[u8]| -> Option<f64> {
            std::str::from_utf8(text)
                .unwrap()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
        };
        for &v in &values {
            for decimals in [0, 3, 4, 6] {
                let mut text = Vec::new();
                push_fixed(&mut text, v, decimals);
                let (want, got) = (read(&text), as_logged(v, decimals));
                assert!(
                    want.map(f64::to_bits) == got.map(f64::to_bits),
                    "{v:e} with {decimals}: {want:?} vs {got:?}"
                );
            }
            let mut text = Vec::new();
            push_metric(&mut text, v);
            let (want, got) = (read(&text), metric_as_logged(v));
            assert!(want.map(f64::to_bits) == got.map(f64::to_bits), "{v:e}");
        }
    }

    /// The maximum mean is that of the windows summed in order, bit for bit, though most
    /// windows are not summed (returns with rounding-prone fractions, rising and noisy).
    #[test]
    fn max_mean_equals_the_exact_sums_of_every_window() {
        let mut w = EpisodeWindow::new(100);
        let mut all = Vec::new();
        let mut best: Option<f64> = None;
        let mut x = 0.1f64;
        for i in 0..5000 {
            x = (x * 3.7 + 0.13).fract();
            let r = (i as f64).sqrt() * 0.3 + x * 7.0 - 3.5;
            w.push(r, 1);
            all.push(r);
            if all.len() >= 100 {
                let mean = all[all.len() - 100..].iter().sum::<f64>() / 100.0;
                best = Some(best.map_or(mean, |b: f64| b.max(mean)));
            }
            assert_eq!(w.max_mean_return(), best, "after {i}");
        }
    }

    /// The threshold check from the running sums answers as the exact mean does, also for
    /// thresholds at (and one ulp around) the exact mean of each window.
    #[test]
    fn threshold_check_equals_the_exact_mean() {
        let mut w = EpisodeWindow::new(100);
        let mut x = 0.1f64;
        for i in 0..3000 {
            x = (x * 3.7 + 0.13).fract();
            w.push((i as f64).sqrt() * 0.1 + x * 7.0 - 3.5, 1);
            let Some(mean) = w.mean_return() else {
                continue;
            };
            let ulp = mean.abs() * f64::EPSILON;
            let near = [mean, mean + ulp, mean - ulp, mean + 0.5, mean - 0.5];
            for threshold in near.into_iter().chain([f64::INFINITY, f64::NEG_INFINITY]) {
                assert_eq!(
                    w.mean_return_reaches(threshold),
                    mean >= threshold,
                    "after {i}, threshold {threshold}"
                );
            }
        }
    }

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
    fn metrics_average_means_and_keep_the_last_of_gauges() {
        let mut sum = MetricsSum::default();
        sum.add(&[Metric::mean("loss", 1.0), Metric::last("lr", 0.5)]);
        sum.add(&[Metric::mean("loss", 3.0), Metric::last("lr", 0.25)]);
        sum.add(&[Metric::mean("loss", f64::NAN), Metric::last("lr", 0.125)]);
        assert_eq!(
            sum.take(),
            vec![
                ("loss".to_string(), Some(2.0)),
                ("lr".to_string(), Some(0.125))
            ]
        );
        sum.add(&[Metric::mean("loss", f64::NAN)]);
        assert_eq!(sum.take()[0], ("loss".to_string(), None));
        let row = MetricsRow {
            env_steps: 10,
            metrics: vec![("loss".into(), Some(2.0)), ("lr".into(), Some(2.5e-4))],
            ..MetricsRow::default()
        };
        assert_eq!(
            row.header(),
            "env_steps,wall_seconds,episodes,updates,mean_return,mean_length,loss,lr,steps_per_second"
        );
        assert_eq!(row.to_csv(), "10,0.000,0,0,,,2.000000,2.500000e-4,0");
    }

    #[test]
    fn rounding_without_libm_equals_the_standard_one() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut values = vec![
            0.5,
            1.5,
            2.5,
            -0.5,
            -2.5,
            4503599627370495.5,
            4503599627370497.0,
        ];
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = ((x >> 3) % 60) as i32 - 10;
            let sign = if x & 1 == 1 { -1.0 } else { 1.0 };
            values.push(sign * mantissa * 2f64.powi(exponent));
            // Ties: k + 0.5.
            values.push(sign * ((x >> 20) % 100_000) as f64 + 0.5);
        }
        for v in values {
            assert_eq!(round_ties_even(v).abs(), v.round_ties_even().abs(), "{v}");
        }
    }

    #[test]
    fn fast_fixed_formatting_matches_the_standard_one() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![
            0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 1e-7, -1e-7, 123.456, 1e12, 1e20, -3.75,
        ];
        for _ in 0..4_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = ((x >> 3) % 16) as i32 - 8;
            let sign = if x & 1 == 1 { -1.0 } else { 1.0 };
            values.push(sign * mantissa * 10f64.powi(exponent));
        }
        let mut differ = 0;
        for v in values {
            for d in [0, 3, 4, 6] {
                let mut buf = Vec::new();
                push_fixed(&mut buf, v, d);
                let (ours, std) = (String::from_utf8(buf).unwrap(), format!("{v:.d$}"));
                if ours != std {
                    // Only a near-tie may round the other way: the last digit, by one.
                    differ += 1;
                    let gap = (ours.parse::<f64>().unwrap() - std.parse::<f64>().unwrap()).abs();
                    assert!(
                        gap <= 1.01 * 10f64.powi(-(d as i32)),
                        "{v} .{d}: {ours} vs {std}"
                    );
                }
            }
        }
        assert!(differ < 20, "{differ} of 80,000 differ in the last digit");
    }
}
