//! 2-D convolution (cross-correlation, as PyTorch's `Conv2d`), channels last.
//!
//! Layout: an input row is an image `[height, width, channels]` flattened in that order (the
//! layout MinAtar and Gymnasium image observations already have), so a batch is
//! `[batch, height, width, channels]` (NHWC) and the output is `[batch, out_h, out_w, filters]`,
//! which a following Linear layer reads as one flat row. The weight is
//! `[filters, kernel_h, kernel_w, in_channels]` (row-major, registered as a
//! `filters x (kernel_h*kernel_w*in_channels)` matrix); PyTorch's is `[filters, in_channels,
//! kernel_h, kernel_w]`, and a PyTorch Linear after `flatten` reads channels first, so moving
//! weights between the two means permuting both.
//!
//! The product is im2col + one matrix product: every output position's receptive field becomes
//! one row of `kernel_h*kernel_w*in_channels` (runs of `in_channels` contiguous inputs), so the
//! whole batch is a single `[batch*out_h*out_w, K] x [K, filters]` product against the weight as
//! it is stored. That product's kernel is chosen from the layer's shape alone and every row of
//! it is computed the same way whatever the number of rows, so acting (batch 1) and training
//! (batch 32) give the same bits for the same image.

use crate::error::{nonzero, NnError};
use crate::kernels::{self, Trans};
use crate::{Init, ParamLayout, Slot};

/// A convolution layer (dilation 1, one group). Parameters `{prefix}.weight` and `{prefix}.bias`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub in_height: usize,
    pub in_width: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
    pub out_height: usize,
    pub out_width: usize,
    pub weight: Slot,
    pub bias: Slot,
}

impl Conv2d {
    /// Registers a `kernel x kernel` convolution of an `[in_height, in_width, in_channels]`
    /// image. Errors when the kernel does not fit in the padded image or a size is zero.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        in_shape: [usize; 3],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        weight_init: Init,
        bias_init: Init,
    ) -> Result<Self, NnError> {
        let ctx = format!("Conv2d `{prefix}`");
        let [in_height, in_width, in_channels] = in_shape;
        nonzero(&ctx, "input height", in_height)?;
        nonzero(&ctx, "input width", in_width)?;
        nonzero(&ctx, "input channels", in_channels)?;
        nonzero(&ctx, "filters (out_channels)", out_channels)?;
        nonzero(&ctx, "kernel size", kernel)?;
        nonzero(&ctx, "stride", stride)?;
        let (padded_h, padded_w) = (in_height + 2 * padding, in_width + 2 * padding);
        if kernel > padded_h || kernel > padded_w {
            return Err(NnError::shape(
                &ctx,
                format!(
                    "kernel {kernel}x{kernel} is larger than the input {in_height}x{in_width} \
                     (padding {padding}): use a smaller kernel or more padding"
                ),
            ));
        }
        let out_height = (padded_h - kernel) / stride + 1;
        let out_width = (padded_w - kernel) / stride + 1;
        let k = kernel * kernel * in_channels;
        let weight = layout.matrix(format!("{prefix}.weight"), out_channels, k, weight_init);
        let bias = layout.vector(format!("{prefix}.bias"), out_channels, bias_init);
        Ok(Conv2d {
            in_height,
            in_width,
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            out_height,
            out_width,
            weight,
            bias,
        })
    }

    /// Inputs per image (`height*width*channels`).
    pub fn in_size(&self) -> usize {
        self.in_height * self.in_width * self.in_channels
    }

    /// Outputs per image (`out_h*out_w*filters`).
    pub fn out_size(&self) -> usize {
        self.out_height * self.out_width * self.out_channels
    }

    /// Length of one receptive field row of the im2col matrix.
    pub fn patch_size(&self) -> usize {
        self.kernel * self.kernel * self.in_channels
    }

    /// Scratch elements [`forward`](Self::forward) needs for `batch` images.
    pub fn scratch_size(&self, batch: usize) -> usize {
        batch * self.out_height * self.out_width * self.patch_size()
    }

    /// Whether the product uses the weight as it lies ([`kernels::gemm_nt`]) or the packing
    /// [`kernels::gemm`]: from the shape only, never the batch (see [`crate::linear`]).
    fn weight_as_stored(&self) -> bool {
        kernels::weight_as_stored_pays_off(self.out_channels, self.patch_size())
    }

    /// Fills `cols` `[batch*out_h*out_w, K]` with the receptive fields of `x`.
    fn im2col(&self, x: &[f32], batch: usize, cols: &mut [f32]) {
        let (c, k, s, pad) = (self.in_channels, self.kernel, self.stride, self.padding);
        let (h, w) = (self.in_height as isize, self.in_width as isize);
        let patch = self.patch_size();
        let mut row = 0;
        for image in x.chunks_exact(self.in_size()).take(batch) {
            for oy in 0..self.out_height {
                for ox in 0..self.out_width {
                    let dst = &mut cols[row * patch..(row + 1) * patch];
                    row += 1;
                    for ky in 0..k {
                        let iy = (oy * s + ky) as isize - pad as isize;
                        let line = &mut dst[ky * k * c..(ky + 1) * k * c];
                        if iy < 0 || iy >= h {
                            line.fill(0.0);
                            continue;
                        }
                        let ix0 = (ox * s) as isize - pad as isize;
                        if ix0 >= 0 && ix0 + k as isize <= w {
                            // The whole kernel row is inside: one contiguous copy.
                            let at = (iy as usize * self.in_width + ix0 as usize) * c;
                            line.copy_from_slice(&image[at..at + k * c]);
                        } else {
                            for kx in 0..k {
                                let ix = ix0 + kx as isize;
                                let cell = &mut line[kx * c..(kx + 1) * c];
                                if ix < 0 || ix >= w {
                                    cell.fill(0.0);
                                } else {
                                    let at = (iy as usize * self.in_width + ix as usize) * c;
                                    cell.copy_from_slice(&image[at..at + c]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds the receptive-field gradients `dcols` back onto the image gradient `dx`.
    fn col2im_add(&self, dcols: &[f32], batch: usize, dx: &mut [f32]) {
        let (c, k, s, pad) = (self.in_channels, self.kernel, self.stride, self.padding);
        let (h, w) = (self.in_height as isize, self.in_width as isize);
        let patch = self.patch_size();
        let mut row = 0;
        for image in dx.chunks_exact_mut(self.in_size()).take(batch) {
            for oy in 0..self.out_height {
                for ox in 0..self.out_width {
                    let src = &dcols[row * patch..(row + 1) * patch];
                    row += 1;
                    for ky in 0..k {
                        let iy = (oy * s + ky) as isize - pad as isize;
                        if iy < 0 || iy >= h {
                            continue;
                        }
                        for kx in 0..k {
                            let ix = (ox * s + kx) as isize - pad as isize;
                            if ix < 0 || ix >= w {
                                continue;
                            }
                            let at = (iy as usize * self.in_width + ix as usize) * c;
                            let from = &src[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                            image[at..at + c]
                                .iter_mut()
                                .zip(from)
                                .for_each(|(d, g)| *d += g);
                        }
                    }
                }
            }
        }
    }

    /// `y [batch, out_h, out_w, filters] = conv(x [batch, h, w, c])` (overwrites `y`).
    /// `cols` is scratch of at least [`scratch_size`](Self::scratch_size)`(batch)` elements;
    /// it keeps the receptive fields for [`backward`](Self::backward).
    pub fn forward(&self, p: &[f32], x: &[f32], batch: usize, y: &mut [f32], cols: &mut [f32]) {
        let rows = batch * self.out_height * self.out_width;
        let patch = self.patch_size();
        assert!(
            x.len() >= batch * self.in_size()
                && y.len() >= rows * self.out_channels
                && cols.len() >= rows * patch,
            "Conv2d: x needs {}, y {} and scratch {} elements for batch {batch} (got {}, {}, {})",
            batch * self.in_size(),
            rows * self.out_channels,
            rows * patch,
            x.len(),
            y.len(),
            cols.len()
        );
        self.im2col(x, batch, cols);
        let y = &mut y[..rows * self.out_channels];
        kernels::broadcast_rows(self.bias.of(p), rows, y);
        kernels::add_times_weight_t(
            rows,
            self.out_channels,
            patch,
            &cols[..rows * patch],
            self.weight.of(p),
            y,
            self.weight_as_stored(),
        );
    }

    /// Adds the parameter gradients into `g` and, if given, d loss / d x into `dx`. `cols` is
    /// the scratch the forward pass filled (unchanged since); `dcols` is scratch of the same
    /// size, used only when `dx` is wanted.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        cols: &[f32],
        dy: &[f32],
        batch: usize,
        dx: Option<&mut [f32]>,
        dcols: &mut [f32],
    ) {
        let rows = batch * self.out_height * self.out_width;
        let (patch, f) = (self.patch_size(), self.out_channels);
        assert!(
            cols.len() >= rows * patch && dy.len() >= rows * f,
            "Conv2d backward: scratch needs {} and dy {} elements for batch {batch}",
            rows * patch,
            rows * f
        );
        let dy = &dy[..rows * f];
        kernels::gemm(
            Trans::Yes,
            Trans::No,
            f,
            patch,
            rows,
            1.0,
            dy,
            f,
            cols,
            patch,
            1.0,
            self.weight.of_mut(g),
            patch,
        );
        kernels::add_column_sums(dy, rows, self.bias.of_mut(g));
        if let Some(dx) = dx {
            assert!(
                dx.len() >= batch * self.in_size() && dcols.len() >= rows * patch,
                "Conv2d backward: dx or its scratch too short"
            );
            kernels::gemm(
                Trans::No,
                Trans::No,
                rows,
                patch,
                f,
                1.0,
                dy,
                f,
                self.weight.of(p),
                patch,
                0.0,
                dcols,
                patch,
            );
            self.col2im_add(&dcols[..rows * patch], batch, dx);
        }
    }

    /// Writes [`Conv2d::forward`] into an ONNX graph, flat rows in and out: Reshape to NHWC,
    /// Transpose to NCHW, `Conv`, Transpose back and flatten.
    pub fn onnx(&self, g: &mut crate::onnx::Graph, p: &[f32], x: &str) -> String {
        use crate::onnx::Attr;
        let (c, k, f) = (self.in_channels, self.kernel, self.out_channels);
        // [f, ky, kx, c] -> [f, c, ky, kx]
        let w = self.weight.of(p);
        let mut w_nchw = vec![0.0; w.len()];
        for o in 0..f {
            for ky in 0..k {
                for kx in 0..k {
                    for ci in 0..c {
                        w_nchw[((o * c + ci) * k + ky) * k + kx] =
                            w[((o * k + ky) * k + kx) * c + ci];
                    }
                }
            }
        }
        let nhwc = g.constant_i64(
            "shape",
            &[4],
            &[0, self.in_height as i64, self.in_width as i64, c as i64],
        );
        let image = g.op("Reshape", &[x, &nhwc], Vec::new());
        let nchw = g.op(
            "Transpose",
            &[&image],
            vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))],
        );
        let weight = g.constant("conv_weight", &[f, c, k, k], &w_nchw);
        let bias = g.constant("conv_bias", &[f], self.bias.of(p));
        let pad = self.padding as i64;
        let conv = g.op(
            "Conv",
            &[&nchw, &weight, &bias],
            vec![
                ("kernel_shape", Attr::Ints(vec![k as i64, k as i64])),
                (
                    "strides",
                    Attr::Ints(vec![self.stride as i64, self.stride as i64]),
                ),
                ("pads", Attr::Ints(vec![pad, pad, pad, pad])),
            ],
        );
        let back = g.op(
            "Transpose",
            &[&conv],
            vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))],
        );
        let flat = g.constant_i64("shape", &[2], &[0, -1]);
        g.op("Reshape", &[&back, &flat], Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use crate::testutil::{fill_random, weighted_sum};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The definition, one output at a time.
    fn reference(conv: &Conv2d, p: &[f32], x: &[f32], batch: usize) -> Vec<f32> {
        let (c, k, s, pad) = (conv.in_channels, conv.kernel, conv.stride, conv.padding);
        let w = conv.weight.of(p);
        let b = conv.bias.of(p);
        let mut y = Vec::new();
        for n in 0..batch {
            for oy in 0..conv.out_height {
                for ox in 0..conv.out_width {
                    for o in 0..conv.out_channels {
                        let mut acc = b[o] as f64;
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * s + ky) as isize - pad as isize;
                                let ix = (ox * s + kx) as isize - pad as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= conv.in_height as isize
                                    || ix >= conv.in_width as isize
                                {
                                    continue;
                                }
                                for ci in 0..c {
                                    let xv = x[n * conv.in_size()
                                        + (iy as usize * conv.in_width + ix as usize) * c
                                        + ci];
                                    acc += (w[((o * k + ky) * k + kx) * c + ci] * xv) as f64;
                                }
                            }
                        }
                        y.push(acc as f32);
                    }
                }
            }
        }
        y
    }

    #[test]
    fn forward_matches_definition_and_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // [h, w, c], filters, kernel, stride, padding
        let shapes = [
            ([5, 5, 2], 3, 3, 1, 0),
            ([6, 5, 3], 4, 3, 2, 1),
            ([7, 7, 1], 2, 4, 3, 2),
            ([4, 6, 2], 17, 2, 1, 1),
            ([3, 3, 2], 2, 3, 1, 0),
        ];
        for (shape, filters, kernel, stride, padding) in shapes {
            let mut layout = ParamLayout::new();
            let conv = Conv2d::new(
                &mut layout,
                "conv",
                shape,
                filters,
                kernel,
                stride,
                padding,
                Init::ZEROS,
                Init::ZEROS,
            )
            .unwrap();
            let batch = 2;
            let p = fill_random(layout.len(), 0.5, &mut rng);
            let x = fill_random(batch * conv.in_size(), 1.0, &mut rng);
            let w_out = fill_random(batch * conv.out_size(), 1.0, &mut rng);
            let mut y = vec![0.0; batch * conv.out_size()];
            let mut cols = vec![0.0; conv.scratch_size(batch)];
            conv.forward(&p, &x, batch, &mut y, &mut cols);
            let want = reference(&conv, &p, &x, batch);
            for (a, b) in y.iter().zip(&want) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{shape:?} k{kernel} s{stride} p{padding}: {a} vs {b}"
                );
            }

            let mut g = vec![0.0; layout.len()];
            let mut dx = vec![0.0; x.len()];
            let mut dcols = vec![0.0; cols.len()];
            conv.backward(&p, &mut g, &cols, &w_out, batch, Some(&mut dx), &mut dcols);
            let loss = |p: &[f32], x: &[f32]| {
                let mut y = vec![0.0; batch * conv.out_size()];
                let mut cols = vec![0.0; conv.scratch_size(batch)];
                conv.forward(p, x, batch, &mut y, &mut cols);
                weighted_sum(&y, &w_out)
            };
            check_gradient(|p| loss(p, &x), &p, &g, 1e-2, 1e-3, 2e-2)
                .unwrap_or_else(|e| panic!("{shape:?} params: {e}"));
            check_gradient(|x| loss(&p, x), &x, &dx, 1e-2, 1e-3, 2e-2)
                .unwrap_or_else(|e| panic!("{shape:?} inputs: {e}"));
        }
    }

    #[test]
    fn one_image_has_the_same_bits_alone_and_in_a_batch() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for filters in [16, 32] {
            let mut layout = ParamLayout::new();
            let conv = Conv2d::new(
                &mut layout,
                "c",
                [10, 10, 4],
                filters,
                3,
                1,
                0,
                Init::UniformFanIn,
                Init::ZEROS,
            )
            .unwrap();
            let p = layout.initialize(&mut rng);
            let batch = 32;
            let x = fill_random(batch * conv.in_size(), 1.0, &mut rng);
            let mut y = vec![0.0; batch * conv.out_size()];
            let mut cols = vec![0.0; conv.scratch_size(batch)];
            conv.forward(&p, &x, batch, &mut y, &mut cols);
            for n in [0, 5, 31] {
                let mut one = vec![0.0; conv.out_size()];
                let mut cols1 = vec![0.0; conv.scratch_size(1)];
                conv.forward(
                    &p,
                    &x[n * conv.in_size()..(n + 1) * conv.in_size()],
                    1,
                    &mut one,
                    &mut cols1,
                );
                let same = one
                    .iter()
                    .zip(&y[n * conv.out_size()..(n + 1) * conv.out_size()])
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{filters} filters, image {n}");
            }
        }
    }

    #[test]
    fn a_kernel_larger_than_the_input_is_a_clear_error() {
        let mut layout = ParamLayout::new();
        let err = Conv2d::new(
            &mut layout,
            "c",
            [2, 5, 1],
            4,
            3,
            1,
            0,
            Init::ZEROS,
            Init::ZEROS,
        )
        .unwrap_err();
        assert!(err.to_string().contains("larger than the input"), "{err}");
        let err = Conv2d::new(
            &mut layout,
            "d",
            [5, 5, 1],
            4,
            3,
            0,
            0,
            Init::ZEROS,
            Init::ZEROS,
        )
        .unwrap_err();
        assert!(err.to_string().contains("stride"), "{err}");
        // Padding can make it fit.
        assert!(Conv2d::new(
            &mut layout,
            "e",
            [2, 2, 1],
            4,
            3,
            1,
            1,
            Init::ZEROS,
            Init::ZEROS
        )
        .is_ok());
    }

    /// MinAtar's network shape in small: Conv -> ReLU -> Linear -> ReLU, through Sequential.
    #[test]
    fn conv_encoder_in_a_sequential_has_correct_gradients() {
        use crate::{Activation, Sequential};
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut layout = ParamLayout::new();
        let mut enc = Sequential::new("enc", 5 * 5 * 3);
        enc.push_conv2d(
            &mut layout,
            [5, 5, 3],
            4,
            3,
            1,
            1,
            Init::UniformFanIn,
            Init::ZEROS,
        )
        .unwrap();
        enc.push_activation(Activation::Tanh);
        enc.push_conv2d(
            &mut layout,
            [5, 5, 4],
            2,
            2,
            2,
            0,
            Init::UniformFanIn,
            Init::ZEROS,
        )
        .unwrap();
        enc.push_activation(Activation::Tanh);
        enc.push_linear(&mut layout, 6, Init::UniformFanIn, Init::ZEROS)
            .unwrap();
        assert_eq!(layout.get("enc.0.weight").unwrap().shape, vec![4, 27]);
        assert_eq!(enc.out_size, 6);
        let err = enc
            .push_conv2d(&mut layout, [3, 3, 1], 2, 2, 1, 0, Init::ZEROS, Init::ZEROS)
            .unwrap_err();
        assert!(err.to_string().contains("has 9 values"), "{err}");
        let p = fill_random(layout.len(), 0.5, &mut rng);
        let batch = 3;
        let x = fill_random(batch * 75, 1.0, &mut rng);
        let w = fill_random(batch * 6, 1.0, &mut rng);
        let mut tape = enc.tape(batch);
        enc.forward(&p, &x, batch, &mut tape);
        let mut g = vec![0.0; layout.len()];
        let mut dx = vec![0.0; x.len()];
        enc.backward(&p, &mut g, &x, &mut tape, &w, Some(&mut dx));
        let mut t2 = enc.tape(batch);
        let mut loss_p = |p: &[f32]| {
            enc.forward(p, &x, batch, &mut t2);
            weighted_sum(t2.output(), &w)
        };
        check_gradient(&mut loss_p, &p, &g, 5e-3, 2e-3, 5e-2).unwrap();
        let mut loss_x = |x: &[f32]| {
            enc.forward(&p, x, batch, &mut t2);
            weighted_sum(t2.output(), &w)
        };
        check_gradient(&mut loss_x, &x, &dx, 5e-3, 2e-3, 5e-2).unwrap();
    }
}
