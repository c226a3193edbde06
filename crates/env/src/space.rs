//! Gymnasium's spaces, and the flat `f32` encoding engram uses to move observations and
//! actions without allocating.
//!
//! Every value of a space has a *flat* form: a fixed number of `f32`s ([`Space::flat_dim`]).
//! Box: its components in C order. Discrete: one number, the integer itself (exact below
//! 2^24). MultiDiscrete: one number per component. Tuple: its components' flat forms, one after
//! another. Environments write observations in this form into caller-owned buffers, which is
//! what lets a vector env keep N observations in one contiguous buffer.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A space of observations or actions, as in `gymnasium.spaces`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Space {
    /// `{start, ..., start + n - 1}`.
    Discrete { n: u64, start: i64 },
    /// A box of `f32` with per-component bounds (may be infinite), C-order `shape`.
    Box {
        low: Vec<f32>,
        high: Vec<f32>,
        shape: Vec<usize>,
    },
    /// Independent components, component i in `{0, ..., nvec[i] - 1}`.
    MultiDiscrete { nvec: Vec<u64> },
    /// A fixed sequence of spaces.
    Tuple(Vec<Space>),
}

impl Space {
    pub fn discrete(n: u64) -> Space {
        Space::Discrete { n, start: 0 }
    }

    /// A box with the same bounds for every component.
    pub fn uniform_box(low: f32, high: f32, shape: &[usize]) -> Space {
        let len = shape.iter().product();
        Space::Box {
            low: vec![low; len],
            high: vec![high; len],
            shape: shape.to_vec(),
        }
    }

    /// A box with per-component bounds (1-D).
    pub fn bounded_box(low: Vec<f32>, high: Vec<f32>) -> Space {
        assert_eq!(
            low.len(),
            high.len(),
            "box bounds must have the same length"
        );
        let shape = vec![low.len()];
        Space::Box { low, high, shape }
    }

    /// Number of `f32`s in a value's flat form.
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { shape, .. } => shape.iter().product(),
            Space::MultiDiscrete { nvec } => nvec.len(),
            Space::Tuple(parts) => parts.iter().map(Space::flat_dim).sum(),
        }
    }

    /// Width after one-hot encoding every discrete part (Box parts pass through).
    pub fn one_hot_dim(&self) -> usize {
        match self {
            Space::Discrete { n, .. } => *n as usize,
            Space::Box { shape, .. } => shape.iter().product(),
            Space::MultiDiscrete { nvec } => nvec.iter().map(|&n| n as usize).sum(),
            Space::Tuple(parts) => parts.iter().map(Space::one_hot_dim).sum(),
        }
    }

    /// True for Discrete and MultiDiscrete, and Tuples made only of them.
    pub fn is_discrete(&self) -> bool {
        match self {
            Space::Discrete { .. } | Space::MultiDiscrete { .. } => true,
            Space::Box { .. } => false,
            Space::Tuple(parts) => parts.iter().all(Space::is_discrete),
        }
    }

    /// Whether the flat value `x` belongs to the space.
    pub fn contains(&self, x: &[f32]) -> bool {
        if x.len() != self.flat_dim() {
            return false;
        }
        match self {
            Space::Discrete { n, start } => {
                let v = x[0];
                v.fract() == 0.0 && (v as i64) >= *start && (v as i64) < *start + *n as i64
            }
            Space::Box { low, high, .. } => x
                .iter()
                .zip(low.iter().zip(high))
                .all(|(v, (lo, hi))| v >= lo && v <= hi),
            Space::MultiDiscrete { nvec } => nvec
                .iter()
                .zip(x)
                .all(|(&n, &v)| v.fract() == 0.0 && v >= 0.0 && (v as u64) < n),
            Space::Tuple(parts) => {
                let mut at = 0;
                parts.iter().all(|p| {
                    let d = p.flat_dim();
                    let ok = p.contains(&x[at..at + d]);
                    at += d;
                    ok
                })
            }
        }
    }

    /// Draws a uniform element into `out` (Box: uniform where bounded, standard normal where
    /// both bounds are infinite, exponential where one is, as Gymnasium does).
    pub fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.flat_dim());
        match self {
            Space::Discrete { n, start } => out[0] = (*start + rng.gen_range(0..*n) as i64) as f32,
            Space::Box { low, high, .. } => {
                for ((o, &lo), &hi) in out.iter_mut().zip(low).zip(high) {
                    *o = match (lo.is_finite(), hi.is_finite()) {
                        (true, true) => lo + rng.gen::<f32>() * (hi - lo),
                        (false, false) => standard_normal(rng),
                        (true, false) => lo + exponential(rng),
                        (false, true) => hi - exponential(rng),
                    };
                }
            }
            Space::MultiDiscrete { nvec } => {
                for (o, &n) in out.iter_mut().zip(nvec) {
                    *o = rng.gen_range(0..n) as f32;
                }
            }
            Space::Tuple(parts) => {
                let mut at = 0;
                for p in parts {
                    let d = p.flat_dim();
                    p.sample_into(rng, &mut out[at..at + d]);
                    at += d;
                }
            }
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f32> {
        let mut out = vec![0.0; self.flat_dim()];
        self.sample_into(rng, &mut out);
        out
    }

    /// Gymnasium-style text, e.g. `Discrete(2)`, `Box(-1.0, 1.0, (3,), float32)`.
    pub fn describe(&self) -> String {
        match self {
            Space::Discrete { n, start: 0 } => format!("Discrete({n})"),
            Space::Discrete { n, start } => format!("Discrete({n}, start={start})"),
            Space::Box { low, high, shape } => {
                let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                let shape = if dims.len() == 1 {
                    format!("({},)", dims[0])
                } else {
                    format!("({})", dims.join(", "))
                };
                let same = |v: &[f32]| v.iter().all(|x| x.to_bits() == v[0].to_bits());
                if !low.is_empty() && same(low) && same(high) {
                    format!("Box({:?}, {:?}, {shape}, float32)", low[0], high[0])
                } else {
                    format!("Box({shape}, float32)")
                }
            }
            Space::MultiDiscrete { nvec } => {
                let v: Vec<String> = nvec.iter().map(|d| d.to_string()).collect();
                format!("MultiDiscrete([{}])", v.join(" "))
            }
            Space::Tuple(parts) => {
                let v: Vec<String> = parts.iter().map(Space::describe).collect();
                format!("Tuple({})", v.join(", "))
            }
        }
    }
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    // Box-Muller; only used for unbounded boxes, never on a hot path.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn exponential<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    (-(1.0 - rng.gen::<f64>()).ln()) as f32
}

/// An action handed to [`crate::Env::step`], borrowed so that stepping never allocates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action<'a> {
    Discrete(i64),
    MultiDiscrete(&'a [i64]),
    Continuous(&'a [f32]),
}

impl Action<'_> {
    /// Whether the action belongs to `space`.
    pub fn is_in(&self, space: &Space) -> bool {
        match (self, space) {
            (Action::Discrete(a), Space::Discrete { n, start }) => {
                *a >= *start && *a < *start + *n as i64
            }
            (Action::MultiDiscrete(a), Space::MultiDiscrete { nvec }) => {
                a.len() == nvec.len() && a.iter().zip(nvec).all(|(&v, &n)| v >= 0 && (v as u64) < n)
            }
            (Action::Continuous(a), Space::Box { shape, .. }) => {
                a.len() == shape.iter().product::<usize>() && a.iter().all(|v| !v.is_nan())
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Action<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Discrete(a) => write!(f, "{a}"),
            Action::MultiDiscrete(a) => write!(f, "{a:?}"),
            Action::Continuous(a) => write!(f, "{a:?}"),
        }
    }
}
