//! Weight initialisers: orthogonal, Xavier/Glorot, PyTorch's fan-in uniform, the original
//! A3C's normalised columns, constants and the LSTM forget-gate bias.
//!
//! Matrices are row-major `rows x cols` = `[fan_out, fan_in]` (PyTorch's weight layout); a
//! vector is `len x 1`. Random initialisers draw from the caller's RNG in a fixed order, so a
//! seed reproduces the weights.

use crate::dist::standard_normal_f64;
use rand::Rng;

/// How a registered tensor is initialised. Matrices are `rows x cols` = `[fan_out, fan_in]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every element equal to the value (biases; `Constant(0.0)` for zeros).
    Constant(f32),
    /// Orthogonal rows/columns scaled by `gain` (Saxe et al. 2013; SB3/CleanRL's default).
    Orthogonal { gain: f32 },
    /// Glorot & Bengio (2010) uniform in `±gain * sqrt(6 / (fan_in + fan_out))`.
    XavierUniform { gain: f32 },
    /// Uniform in `±1/sqrt(fan_in)` (PyTorch's default for Linear/LSTM/GRU).
    UniformFanIn,
    /// Gaussian rows normalised so each output unit's weights have L2 norm `std`
    /// (the original A3C's `normalized_columns_initializer`).
    NormalizedColumns { std: f32 },
    /// LSTM bias `[4H]` in PyTorch gate order (i, f, g, o): zero except the forget gate.
    LstmBias { forget: f32 },
    /// Uniform in `±bound`. For biases, whose own shape does not know the layer's fan-in:
    /// PyTorch's default bias init is `Uniform { bound: 1 / sqrt(fan_in) }`.
    Uniform { bound: f32 },
}

impl Init {
    pub const ZEROS: Init = Init::Constant(0.0);

    /// Fills `buf` (a `rows x cols` row-major tensor).
    pub fn fill<R: Rng + ?Sized>(&self, buf: &mut [f32], rows: usize, cols: usize, rng: &mut R) {
        assert_eq!(
            buf.len(),
            rows * cols,
            "Init::fill: buffer of {} elements for a {rows} x {cols} tensor",
            buf.len()
        );
        match *self {
            Init::Constant(v) => buf.fill(v),
            Init::Orthogonal { gain } => orthogonal(buf, rows, cols, gain, rng),
            Init::XavierUniform { gain } => {
                let bound = gain * (6.0 / (rows + cols) as f32).sqrt();
                uniform(buf, bound, rng);
            }
            Init::UniformFanIn => uniform(buf, 1.0 / (cols.max(1) as f32).sqrt(), rng),
            Init::Uniform { bound } => uniform(buf, bound, rng),
            Init::NormalizedColumns { std } => {
                for row in buf.chunks_exact_mut(cols.max(1)) {
                    let mut norm2 = 0.0f64;
                    for x in row.iter_mut() {
                        let g = standard_normal_f64(rng);
                        norm2 += g * g;
                        *x = g as f32;
                    }
                    let scale = std as f64 / norm2.sqrt().max(f64::MIN_POSITIVE);
                    for x in row.iter_mut() {
                        *x = (*x as f64 * scale) as f32;
                    }
                }
            }
            Init::LstmBias { forget } => {
                let len = buf.len();
                assert!(
                    len.checked_rem(4) == Some(0),
                    "Init::LstmBias needs a bias of 4 * hidden elements (gates i, f, g, o), got {len}"
                );
                let h = len / 4;
                buf.fill(0.0);
                buf[h..2 * h].fill(forget);
            }
        }
    }
}

fn uniform<R: Rng + ?Sized>(buf: &mut [f32], bound: f32, rng: &mut R) {
    for x in buf {
        *x = (rng.gen::<f32>() * 2.0 - 1.0) * bound;
    }
}

/// As `torch.nn.init.orthogonal_`: the Q factor of a Gaussian matrix, with the sign
/// correction by `diag(R)` that makes it uniformly (Haar) distributed, times `gain`. A wide
/// matrix (`rows < cols`) gets orthonormal rows (`W W^T = gain^2 I`), a tall or square one
/// orthonormal columns (`W^T W = gain^2 I`).
///
/// Modified Gram-Schmidt, run twice ("twice is enough") in f64, yields the thin Q with a
/// positive diagonal in R, which is exactly Householder QR's Q after the sign correction.
fn orthogonal<R: Rng + ?Sized>(buf: &mut [f32], rows: usize, cols: usize, gain: f32, rng: &mut R) {
    if rows == 0 || cols == 0 {
        return;
    }
    // Work on a tall m x n matrix (m >= n), stored as n columns of length m. Draw it in
    // PyTorch's order: the flattened rows x cols tensor row by row, transposed when wide.
    let wide = rows < cols;
    let (m, n) = if wide { (cols, rows) } else { (rows, cols) };
    let mut q = vec![0.0f64; m * n]; // column k at q[k*m..(k+1)*m]
    for i in 0..rows {
        for j in 0..cols {
            let v = standard_normal_f64(rng);
            let (r, c) = if wide { (j, i) } else { (i, j) };
            q[c * m + r] = v;
        }
    }
    for k in 0..n {
        let (done, rest) = q.split_at_mut(k * m);
        let col = &mut rest[..m];
        for _pass in 0..2 {
            for prev in done.chunks_exact(m) {
                let dot: f64 = prev.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                for (c, p) in col.iter_mut().zip(prev) {
                    *c -= dot * p;
                }
            }
        }
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            norm > 1e-12,
            "orthogonal init: degenerate Gaussian draw (probability zero); reseed"
        );
        for c in col.iter_mut() {
            *c /= norm;
        }
    }
    let gain = gain as f64;
    for i in 0..rows {
        for j in 0..cols {
            let (r, c) = if wide { (j, i) } else { (i, j) };
            buf[i * cols + j] = (gain * q[c * m + r]) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamLayout;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn filled(init: Init, rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut buf = vec![f32::NAN; rows * cols];
        init.fill(&mut buf, rows, cols, &mut ChaCha8Rng::seed_from_u64(seed));
        buf
    }

    /// Max deviation of `W W^T` (or `W^T W` when `by_columns`) from `target * I`.
    fn gram_error(w: &[f32], rows: usize, cols: usize, by_columns: bool, target: f64) -> f64 {
        let (outer, inner) = if by_columns {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let at = |a: usize, k: usize| {
            (if by_columns {
                w[k * cols + a]
            } else {
                w[a * cols + k]
            }) as f64
        };
        let mut worst = 0.0f64;
        for a in 0..outer {
            for b in 0..outer {
                let dot: f64 = (0..inner).map(|k| at(a, k) * at(b, k)).sum();
                let want = if a == b { target } else { 0.0 };
                worst = worst.max((dot - want).abs());
            }
        }
        worst
    }

    #[test]
    fn orthogonal_is_orthogonal_for_every_shape() {
        for (rows, cols, gain) in [
            (8, 8, 1.0f32),
            (16, 5, 2f32.sqrt()),
            (3, 20, 0.01),
            (64, 68, 1.0),
        ] {
            let w = filled(Init::Orthogonal { gain }, rows, cols, 1);
            let g2 = (gain as f64) * (gain as f64);
            let by_columns = rows >= cols;
            let err = gram_error(&w, rows, cols, by_columns, g2);
            assert!(err < 1e-5 * g2.max(1.0), "{rows}x{cols}: {err}");
            if rows == cols {
                assert!(gram_error(&w, rows, cols, false, g2) < 1e-5);
            }
        }
    }

    #[test]
    fn orthogonal_is_random_and_reproducible() {
        let a = filled(Init::Orthogonal { gain: 1.0 }, 6, 6, 1);
        let b = filled(Init::Orthogonal { gain: 1.0 }, 6, 6, 1);
        let c = filled(Init::Orthogonal { gain: 1.0 }, 6, 6, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // The sign correction makes the distribution Haar: the diagonal is not all positive.
        let mut negatives = 0;
        for seed in 0..20 {
            let w = filled(Init::Orthogonal { gain: 1.0 }, 4, 4, seed);
            negatives += (0..4).filter(|&i| w[i * 4 + i] < 0.0).count();
        }
        assert!((20..60).contains(&negatives), "{negatives} of 80");
    }

    #[test]
    fn uniform_initialisers_respect_and_fill_their_bounds() {
        let (rows, cols) = (50, 30);
        let cases = [
            (Init::XavierUniform { gain: 1.0 }, (6.0f32 / 80.0).sqrt()),
            (
                Init::XavierUniform { gain: 2.0 },
                2.0 * (6.0f32 / 80.0).sqrt(),
            ),
            (Init::UniformFanIn, 1.0 / 30f32.sqrt()),
            (Init::Uniform { bound: 0.25 }, 0.25),
        ];
        for (init, bound) in cases {
            let w = filled(init, rows, cols, 3);
            let max = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(max <= bound, "{init:?}: {max} > {bound}");
            assert!(max > 0.98 * bound, "{init:?}: {max} does not reach {bound}");
            let mean = w.iter().sum::<f32>() / w.len() as f32;
            assert!(mean.abs() < 0.05 * bound, "{init:?}: mean {mean}");
        }
    }

    #[test]
    fn normalized_columns_have_norm_std_per_output_unit() {
        let (rows, cols) = (6, 10);
        let w = filled(Init::NormalizedColumns { std: 0.01 }, rows, cols, 4);
        for row in w.chunks(cols) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 0.01).abs() < 1e-7, "{norm}");
        }
        // Not all the same direction.
        assert_ne!(w[..cols], w[cols..2 * cols]);
    }

    #[test]
    fn constant_and_lstm_bias() {
        assert!(filled(Init::Constant(0.5), 3, 2, 0)
            .iter()
            .all(|&x| x == 0.5));
        let b = filled(Init::LstmBias { forget: 1.0 }, 12, 1, 0);
        assert_eq!(b, [0., 0., 0., 1., 1., 1., 0., 0., 0., 0., 0., 0.].to_vec());
    }

    #[test]
    #[should_panic(expected = "4 * hidden")]
    fn lstm_bias_wrong_length_is_a_clear_error() {
        filled(Init::LstmBias { forget: 1.0 }, 6, 1, 0);
    }

    #[test]
    fn layout_initialises_every_tensor() {
        let mut layout = ParamLayout::new();
        let w = layout.matrix("w", 4, 3, Init::Orthogonal { gain: 1.0 });
        let b = layout.vector("b", 4, Init::ZEROS);
        let params = layout.initialize(&mut ChaCha8Rng::seed_from_u64(0));
        assert!(gram_error(w.of(&params), 4, 3, true, 1.0) < 1e-5);
        assert!(b.of(&params).iter().all(|&x| x == 0.0));
    }
}
