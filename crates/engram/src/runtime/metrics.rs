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
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        let mut line = format!(
            "{},{:.3},{},{},{},{}",
            self.env_steps,
            self.wall_seconds,
            self.episodes,
            self.updates,
            opt(self.mean_return),
            opt(self.mean_length),
        );
        for (_, v) in &self.metrics {
            line.push(',');
            if let Some(v) = v {
                line.push_str(&format_metric(*v));
            }
        }
        line.push_str(&format!(",{:.0}", self.steps_per_second));
        line
    }

    /// A metric of this row by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| *v)
    }
}

/// Six significant digits, fixed or scientific by magnitude (learning rates are small).
pub fn format_metric(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.6e}")
    } else {
        format!("{v:.6}")
    }
}

/// The returns and lengths of the last `capacity` finished episodes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpisodeWindow {
    capacity: usize,
    returns: VecDeque<f64>,
    lengths: VecDeque<u64>,
    /// The highest mean of a full window so far: POPGym's MMER (maximum mean episodic return).
    #[serde(default)]
    max_full_mean: Option<f64>,
}

impl EpisodeWindow {
    pub fn new(capacity: usize) -> Self {
        EpisodeWindow {
            capacity,
            returns: VecDeque::new(),
            lengths: VecDeque::new(),
            max_full_mean: None,
        }
    }

    pub fn push(&mut self, episode_return: f64, length: u64) {
        if self.returns.len() == self.capacity {
            self.returns.pop_front();
            self.lengths.pop_front();
        }
        self.returns.push_back(episode_return);
        self.lengths.push_back(length);
        if self.is_full() {
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
}
