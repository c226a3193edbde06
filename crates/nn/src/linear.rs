//! Fully connected layer `y = x W^T + b`, batch-major, weights `[out, in]` as in PyTorch.

use crate::error::{nonzero, NnError};
use crate::kernels::{self, Trans};
use crate::{Activation, Init, ParamLayout, Slot};

/// A dense layer. Parameters `{prefix}.weight` `[out, in]` and `{prefix}.bias` `[out]`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub weight: Slot,
    pub bias: Slot,
}

impl Linear {
    /// Registers the layer's parameters in `layout`.
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        in_features: usize,
        out_features: usize,
        weight_init: Init,
        bias_init: Init,
    ) -> Result<Self, NnError> {
        let ctx = format!("Linear `{prefix}`");
        nonzero(&ctx, "in_features", in_features)?;
        nonzero(&ctx, "out_features", out_features)?;
        let weight = layout.matrix(
            format!("{prefix}.weight"),
            out_features,
            in_features,
            weight_init,
        );
        let bias = layout.vector(format!("{prefix}.bias"), out_features, bias_init);
        Ok(Self {
            in_features,
            out_features,
            weight,
            bias,
        })
    }

    /// `y[batch, out] = x[batch, in] W^T + b` (overwrites `y`).
    pub fn forward(&self, p: &[f32], x: &[f32], batch: usize, y: &mut [f32]) {
        self.forward_activated(p, x, batch, y, Activation::Identity);
    }

    /// `y = f(x W^T + b)`: [`Linear::forward`] and then the activation `f`, the bias and `f`
    /// applied together to each output row while it is in cache (a bias broadcast into `y`
    /// before the product was 3% of a SAC update: its first touch of the output missed the
    /// cache). Every output is the rounded `x W^T` plus the bias, as at batch 1.
    pub fn forward_activated(
        &self,
        p: &[f32],
        x: &[f32],
        batch: usize,
        y: &mut [f32],
        f: Activation,
    ) {
        let (n_in, n_out) = (self.in_features, self.out_features);
        assert!(
            x.len() >= batch * n_in && y.len() >= batch * n_out,
            "Linear {n_in}->{n_out}: x needs {} and y {} elements for batch {batch} (got {}, {})",
            batch * n_in,
            batch * n_out,
            x.len(),
            y.len()
        );
        let w = self.weight.of(p);
        let b = self.bias.of(p);
        let y = &mut y[..batch * n_out];
        if batch == 1 {
            kernels::gemv(w, n_out, n_in, x, y, false);
        } else if kernels::weight_as_stored_pays_off(n_out, n_in) {
            kernels::broadcast_rows(b, batch, y);
            kernels::add_times_weight_t(batch, n_out, n_in, x, w, y, true);
            f.forward_inplace(y);
            return;
        } else {
            kernels::gemm(
                Trans::No,
                Trans::Yes,
                batch,
                n_out,
                n_in,
                1.0,
                x,
                n_in,
                w,
                n_in,
                0.0,
                y,
                n_out,
            );
        }
        for row in y.chunks_exact_mut(n_out) {
            row.iter_mut().zip(b).for_each(|(y, b)| *y += b);
            f.forward_inplace(row);
        }
    }

    /// Adds the parameter gradients into `g` and, if given, d loss / d x into `dx`
    /// (like every backward pass here: `+=`, the caller zeroes once per update).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        batch: usize,
        dx: Option<&mut [f32]>,
    ) {
        self.backward_into(p, g, x, dy, batch, dx, true);
    }

    /// [`Linear::backward`], but `dx` is overwritten with d loss / d x rather than added to
    /// (a hidden layer's scratch: saves zeroing it first).
    pub fn backward_overwriting_dx(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        batch: usize,
        dx: &mut [f32],
    ) {
        self.backward_into(p, g, x, dy, batch, Some(dx), false);
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_into(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        batch: usize,
        dx: Option<&mut [f32]>,
        accumulate_dx: bool,
    ) {
        let (n_in, n_out) = (self.in_features, self.out_features);
        assert!(
            x.len() >= batch * n_in && dy.len() >= batch * n_out,
            "Linear {n_in}->{n_out}: x needs {} and dy {} elements for batch {batch}",
            batch * n_in,
            batch * n_out
        );
        if batch == 1 {
            kernels::ger(1.0, &dy[..n_out], &x[..n_in], self.weight.of_mut(g));
        } else {
            kernels::gemm(
                Trans::Yes,
                Trans::No,
                n_out,
                n_in,
                batch,
                1.0,
                dy,
                n_out,
                x,
                n_in,
                1.0,
                self.weight.of_mut(g),
                n_in,
            );
        }
        kernels::add_column_sums(dy, batch, self.bias.of_mut(g));
        if let Some(dx) = dx {
            assert!(dx.len() >= batch * n_in, "Linear: dx too short");
            let w = self.weight.of(p);
            if batch == 1 {
                kernels::gemv_t(w, n_out, n_in, dy, dx, accumulate_dx);
            } else {
                kernels::gemm(
                    Trans::No,
                    Trans::No,
                    batch,
                    n_in,
                    n_out,
                    1.0,
                    dy,
                    n_out,
                    w,
                    n_in,
                    if accumulate_dx { 1.0 } else { 0.0 },
                    dx,
                    n_in,
                );
            }
        }
    }
}

impl Linear {
    /// Writes [`Linear::forward`] into an ONNX graph: `Gemm(x, W, b, transB=1)`.
    pub fn onnx(&self, g: &mut crate::onnx::Graph, p: &[f32], x: &str) -> String {
        g.linear(
            x,
            self.weight.of(p),
            Some(self.bias.of(p)),
            self.out_features,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use crate::testutil::{fill_random, weighted_sum};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn linear_forward_matches_definition_and_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for batch in [1usize, 3] {
            let mut layout = ParamLayout::new();
            let lin = Linear::new(&mut layout, "fc", 5, 4, Init::ZEROS, Init::ZEROS).unwrap();
            let p = fill_random(layout.len(), 0.5, &mut rng);
            let x = fill_random(batch * 5, 1.0, &mut rng);
            let w_out = fill_random(batch * 4, 1.0, &mut rng);

            let mut y = vec![0.0; batch * 4];
            lin.forward(&p, &x, batch, &mut y);
            let w = lin.weight.of(&p);
            let b = lin.bias.of(&p);
            for r in 0..batch {
                for o in 0..4 {
                    let want: f32 = b[o] + (0..5).map(|i| w[o * 5 + i] * x[r * 5 + i]).sum::<f32>();
                    assert!((y[r * 4 + o] - want).abs() < 1e-5);
                }
            }

            let mut g = vec![0.0; layout.len()];
            let mut dx = vec![0.0; x.len()];
            lin.backward(&p, &mut g, &x, &w_out, batch, Some(&mut dx));
            let loss_p = |p: &[f32]| {
                let mut y = vec![0.0; batch * 4];
                lin.forward(p, &x, batch, &mut y);
                weighted_sum(&y, &w_out)
            };
            check_gradient(loss_p, &p, &g, 1e-2, 1e-3, 1e-3).unwrap();
            let loss_x = |x: &[f32]| {
                let mut y = vec![0.0; batch * 4];
                lin.forward(&p, x, batch, &mut y);
                weighted_sum(&y, &w_out)
            };
            check_gradient(loss_x, &x, &dx, 1e-2, 1e-3, 1e-3).unwrap();
        }
    }

    #[test]
    fn zero_sized_linear_is_a_build_error() {
        let mut layout = ParamLayout::new();
        let err = Linear::new(&mut layout, "fc", 0, 4, Init::ZEROS, Init::ZEROS).unwrap_err();
        assert!(err.to_string().contains("in_features"), "{err}");
    }
}
