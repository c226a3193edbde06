//! Weight initialisers. (Filled in by the nn work: orthogonal, Xavier, normalised columns.)

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
}

impl Init {
    pub const ZEROS: Init = Init::Constant(0.0);

    /// Fills `buf` (a `rows x cols` row-major tensor).
    pub fn fill<R: Rng + ?Sized>(&self, buf: &mut [f32], rows: usize, cols: usize, rng: &mut R) {
        let _ = (rows, cols, &rng);
        match *self {
            Init::Constant(v) => buf.fill(v),
            _ => unimplemented!("initialiser {self:?}"),
        }
    }
}
