//! Helpers shared by the unit tests.
#![cfg(test)]

use rand::Rng;

/// `n` values uniform in `[-scale, scale]`.
pub fn fill_random<R: Rng>(n: usize, scale: f32, rng: &mut R) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// `sum_i y_i w_i` in f64: a generic scalar loss whose gradient w.r.t. `y` is `w`.
pub fn weighted_sum(y: &[f32], w: &[f32]) -> f64 {
    y.iter().zip(w).map(|(&y, &w)| y as f64 * w as f64).sum()
}
