//! Feed-forward stacks: a [`Layer`] enum (Linear, Conv2d, activation) and [`Sequential`], with
//! an MLP builder. A Conv2d's output (`[out_h, out_w, filters]`, channels last) is read by the
//! next layer as one flat row, so a convolutional encoder is Conv2d, activation, Linear.

use crate::activation::Activation;
use crate::conv::Conv2d;
use crate::error::{nonzero, NnError};
use crate::linear::Linear;
use crate::{Init, ParamLayout};

/// One feed-forward layer acting on batch-major rows.
#[derive(Clone, Debug)]
pub enum Layer {
    Linear(Linear),
    Conv2d(Conv2d),
    Activation(Activation),
}

/// Layers applied in order. Parameter names follow PyTorch's `nn.Sequential` numbering
/// (`{prefix}.0.weight`, `{prefix}.2.weight` with an activation at index 1).
#[derive(Clone, Debug)]
pub struct Sequential {
    pub layers: Vec<Layer>,
    pub in_size: usize,
    pub out_size: usize,
    prefix: String,
}

/// Stored outputs of every layer for up to `batch_max` rows, and backward scratch.
#[derive(Clone, Debug)]
pub struct SequentialTape {
    batch_max: usize,
    batch: usize,
    outputs: Vec<Vec<f32>>,
    /// Per layer: a Conv2d's receptive fields (im2col rows) of the last forward pass.
    cols: Vec<Vec<f32>>,
    /// Backward scratch of the widest Conv2d's receptive fields.
    dcols: Vec<f32>,
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
}

impl SequentialTape {
    /// Output of the last layer for the last forward pass, `[batch, out_size]`.
    pub fn output(&self) -> &[f32] {
        let Some(out) = self.outputs.last() else {
            return &[];
        };
        let width = out.len() / self.batch_max.max(1);
        &out[..self.batch * width]
    }
}

impl Sequential {
    /// An empty stack taking `in_size` inputs; add layers with the `push_*` methods.
    pub fn new(prefix: &str, in_size: usize) -> Self {
        Self {
            layers: Vec::new(),
            in_size,
            out_size: in_size,
            prefix: prefix.to_string(),
        }
    }

    /// An MLP: for each width in `hidden`, a Linear layer followed by `activation`.
    /// Weights from `weight_init`, biases zero.
    pub fn mlp(
        layout: &mut ParamLayout,
        prefix: &str,
        in_size: usize,
        hidden: &[usize],
        activation: Activation,
        weight_init: Init,
    ) -> Result<Self, NnError> {
        nonzero(&format!("MLP `{prefix}`"), "input size", in_size)?;
        let mut s = Self::new(prefix, in_size);
        for &h in hidden {
            s.push_linear(layout, h, weight_init, Init::ZEROS)?;
            s.push_activation(activation);
        }
        Ok(s)
    }

    /// Appends a Linear layer from the current output width to `out`.
    pub fn push_linear(
        &mut self,
        layout: &mut ParamLayout,
        out: usize,
        weight_init: Init,
        bias_init: Init,
    ) -> Result<(), NnError> {
        let name = join(&self.prefix, &self.layers.len().to_string());
        let lin = Linear::new(layout, &name, self.out_size, out, weight_init, bias_init)?;
        self.out_size = out;
        self.layers.push(Layer::Linear(lin));
        Ok(())
    }

    /// Appends a `kernel x kernel` Conv2d reading the current output as an `in_shape`
    /// (`[height, width, channels]`) image; errors when the sizes disagree or the kernel does
    /// not fit.
    #[allow(clippy::too_many_arguments)]
    pub fn push_conv2d(
        &mut self,
        layout: &mut ParamLayout,
        in_shape: [usize; 3],
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        weight_init: Init,
        bias_init: Init,
    ) -> Result<(), NnError> {
        let name = join(&self.prefix, &self.layers.len().to_string());
        let pixels: usize = in_shape.iter().product();
        if pixels != self.out_size {
            return Err(NnError::shape(
                format!("Conv2d `{name}`"),
                format!(
                    "input image {}x{}x{} has {pixels} values but the layer before gives {}",
                    in_shape[0], in_shape[1], in_shape[2], self.out_size
                ),
            ));
        }
        let conv = Conv2d::new(
            layout,
            &name,
            in_shape,
            filters,
            kernel,
            stride,
            padding,
            weight_init,
            bias_init,
        )?;
        self.out_size = conv.out_size();
        self.layers.push(Layer::Conv2d(conv));
        Ok(())
    }

    pub fn push_activation(&mut self, activation: Activation) {
        self.layers.push(Layer::Activation(activation));
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// A tape for up to `batch_max` rows.
    pub fn tape(&self, batch_max: usize) -> SequentialTape {
        let mut width = self.in_size;
        let mut widest = width;
        let mut outputs = Vec::with_capacity(self.layers.len());
        let mut cols = Vec::with_capacity(self.layers.len());
        let mut widest_cols = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let scratch = match layer {
                Layer::Linear(l) => {
                    width = l.out_features;
                    0
                }
                Layer::Conv2d(c) => {
                    width = c.out_size();
                    c.scratch_size(batch_max)
                }
                Layer::Activation(_) => 0,
            };
            widest = widest.max(width);
            widest_cols = widest_cols.max(scratch);
            // A layer that writes into the activation after it keeps no output of its own.
            let kept = if self.feeds_activation(i) { 0 } else { width };
            outputs.push(vec![0.0; batch_max * kept]);
            cols.push(vec![0.0; scratch]);
        }
        SequentialTape {
            batch_max,
            batch: 0,
            outputs,
            cols,
            dcols: vec![0.0; widest_cols],
            grad_a: vec![0.0; batch_max * widest],
            grad_b: vec![0.0; batch_max * widest],
        }
    }

    /// Runs the stack on `x` `[batch, in_size]`; the result is [`SequentialTape::output`].
    pub fn forward(&self, p: &[f32], x: &[f32], batch: usize, tape: &mut SequentialTape) {
        assert!(
            !self.is_empty(),
            "Sequential `{}` has no layers",
            self.prefix
        );
        assert!(
            batch <= tape.batch_max && tape.outputs.len() == self.layers.len(),
            "Sequential `{}`: tape built for {} rows of another stack, called with {batch}",
            self.prefix,
            tape.batch_max
        );
        assert_eq!(
            x.len(),
            batch * self.in_size,
            "Sequential `{}`: x must be [batch={batch}, {}]",
            self.prefix,
            self.in_size
        );
        tape.batch = batch;
        let mut width = self.in_size;
        let mut i = 0;
        while i < self.layers.len() {
            // A Linear or Conv2d followed by an activation writes straight into the
            // activation's output, which then applies in place: its own output would be read
            // by nothing else (an activation's backward needs only what it output), and the
            // copy between them was two passes over every hidden layer's output.
            let fused = self.feeds_activation(i);
            let (done, rest) = tape.outputs.split_at_mut(i);
            let input: &[f32] = if i == 0 {
                x
            } else {
                &done[i - 1][..batch * width]
            };
            let out = &mut rest[usize::from(fused)];
            match (&self.layers[i], self.layers.get(i + 1)) {
                (Layer::Linear(l), Some(&Layer::Activation(f))) if fused => {
                    width = l.out_features;
                    l.forward_activated(p, input, batch, &mut out[..batch * width], f);
                }
                (Layer::Linear(l), _) => {
                    width = l.out_features;
                    l.forward(p, input, batch, &mut out[..batch * width]);
                }
                (Layer::Conv2d(c), next) => {
                    width = c.out_size();
                    let out = &mut out[..batch * width];
                    c.forward(p, input, batch, out, &mut tape.cols[i]);
                    if let (true, Some(Layer::Activation(f))) = (fused, next) {
                        f.forward_inplace(out);
                    }
                }
                (Layer::Activation(a), _) => a.forward(input, &mut out[..batch * width]),
            }
            i += 1 + usize::from(fused);
        }
    }

    /// Layer `i` is a Linear or Conv2d followed by an activation (see [`Sequential::forward`]).
    fn feeds_activation(&self, i: usize) -> bool {
        matches!(self.layers[i], Layer::Linear(_) | Layer::Conv2d(_))
            && matches!(self.layers.get(i + 1), Some(Layer::Activation(_)))
    }

    /// Backward through the last forward pass: adds parameter gradients into `g` and, if
    /// given, d loss / d x into `dx`. `dy` is d loss / d output `[batch, out_size]`.
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        tape: &mut SequentialTape,
        dy: &[f32],
        dx: Option<&mut [f32]>,
    ) {
        let batch = tape.batch;
        assert_eq!(
            dy.len(),
            batch * self.out_size,
            "Sequential: dy must be [batch, out]"
        );
        assert_eq!(
            x.len(),
            batch * self.in_size,
            "Sequential: x differs from the forward pass"
        );
        let mut cur = self.out_size;
        let mut below = self.layers.len();
        match self.layers.last() {
            // A last activation (not the only layer) reads dy directly instead of a copy.
            Some(Layer::Activation(a)) if below > 1 => {
                below -= 1;
                let y = &tape.outputs[below][..batch * cur];
                a.backward_to(y, dy, &mut tape.grad_a[..batch * cur]);
            }
            _ => tape.grad_a[..batch * cur].copy_from_slice(dy),
        }
        let mut dx = dx;
        for i in (0..below).rev() {
            let input: &[f32] = if i == 0 { x } else { &tape.outputs[i - 1] };
            match &self.layers[i] {
                Layer::Activation(a) => {
                    let y = &tape.outputs[i][..batch * cur];
                    a.backward_inplace(y, &mut tape.grad_a[..batch * cur]);
                    if i == 0 {
                        if let Some(dx) = dx.as_deref_mut() {
                            dx.iter_mut()
                                .zip(&tape.grad_a[..batch * cur])
                                .for_each(|(a, b)| *a += b);
                        }
                    }
                }
                Layer::Linear(l) => {
                    let n_in = l.in_features;
                    let input = &input[..batch * n_in];
                    if i == 0 {
                        l.backward(
                            p,
                            g,
                            input,
                            &tape.grad_a[..batch * cur],
                            batch,
                            dx.as_deref_mut(),
                        );
                    } else {
                        let gb = &mut tape.grad_b[..batch * n_in];
                        l.backward_overwriting_dx(
                            p,
                            g,
                            input,
                            &tape.grad_a[..batch * cur],
                            batch,
                            gb,
                        );
                        std::mem::swap(&mut tape.grad_a, &mut tape.grad_b);
                    }
                    cur = n_in;
                }
                Layer::Conv2d(c) => {
                    let n_in = c.in_size();
                    let dy = &tape.grad_a[..batch * cur];
                    if i == 0 {
                        c.backward(
                            p,
                            g,
                            &tape.cols[i],
                            dy,
                            batch,
                            dx.as_deref_mut(),
                            &mut tape.dcols,
                        );
                    } else {
                        let gb = &mut tape.grad_b[..batch * n_in];
                        gb.fill(0.0);
                        c.backward(p, g, &tape.cols[i], dy, batch, Some(gb), &mut tape.dcols);
                        std::mem::swap(&mut tape.grad_a, &mut tape.grad_b);
                    }
                    cur = n_in;
                }
            }
        }
    }
}

impl Sequential {
    /// d loss / d x only (no parameter gradients) for the rows `rows` of the last forward
    /// pass: `dy` is d loss / d output of those rows, compacted `[rows.len(), out_size]`, and
    /// `dx` `[rows.len(), in_size]` receives (`+=`) their input gradients. Rows not listed
    /// cost nothing, which is what a gradient through `min(Q_1, Q_2)` needs (each row flows
    /// through one critic). Linear and activation layers only.
    pub fn input_gradient_rows(
        &self,
        p: &[f32],
        tape: &mut SequentialTape,
        rows: &[usize],
        dy: &[f32],
        dx: &mut [f32],
    ) {
        let n = rows.len();
        assert!(
            rows.iter().all(|&r| r < tape.batch),
            "Sequential::input_gradient_rows: a row is past the last forward pass's {}",
            tape.batch
        );
        assert_eq!(
            dy.len(),
            n * self.out_size,
            "Sequential: dy must be [rows, out]"
        );
        assert_eq!(
            dx.len(),
            n * self.in_size,
            "Sequential: dx must be [rows, in]"
        );
        if n == 0 {
            return;
        }
        let mut cur = self.out_size;
        tape.grad_a[..n * cur].copy_from_slice(dy);
        for i in (0..self.layers.len()).rev() {
            match &self.layers[i] {
                Layer::Activation(a) => {
                    let y = &tape.outputs[i];
                    for (j, &r) in rows.iter().enumerate() {
                        a.backward_inplace(
                            &y[r * cur..(r + 1) * cur],
                            &mut tape.grad_a[j * cur..(j + 1) * cur],
                        );
                    }
                    if i == 0 {
                        dx.iter_mut()
                            .zip(&tape.grad_a[..n * cur])
                            .for_each(|(a, b)| *a += b);
                    }
                }
                Layer::Linear(l) => {
                    let n_in = l.in_features;
                    let w = l.weight.of(p);
                    let (beta, out): (f32, &mut [f32]) = if i == 0 {
                        (1.0, &mut *dx)
                    } else {
                        (0.0, &mut tape.grad_b[..n * n_in])
                    };
                    crate::kernels::gemm(
                        crate::kernels::Trans::No,
                        crate::kernels::Trans::No,
                        n,
                        n_in,
                        cur,
                        1.0,
                        &tape.grad_a[..n * cur],
                        cur,
                        w,
                        n_in,
                        beta,
                        out,
                        n_in,
                    );
                    if i != 0 {
                        std::mem::swap(&mut tape.grad_a, &mut tape.grad_b);
                    }
                    cur = n_in;
                }
                Layer::Conv2d(_) => {
                    panic!("Sequential::input_gradient_rows: Conv2d layers are not supported")
                }
            }
        }
    }
}

/// `prefix.name`, or `name` when the prefix is empty.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Sequential {
    /// Writes [`Sequential::forward`] into an ONNX graph.
    pub fn onnx(&self, g: &mut crate::onnx::Graph, p: &[f32], x: &str) -> String {
        let mut value = x.to_string();
        for layer in &self.layers {
            value = match layer {
                Layer::Linear(l) => l.onnx(g, p, &value),
                Layer::Conv2d(c) => c.onnx(g, p, &value),
                Layer::Activation(a) => a.onnx(g, &value),
            };
        }
        value
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
    fn mlp_names_shapes_and_gradients() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for act in [
            Activation::Tanh,
            Activation::ELU,
            Activation::Sigmoid,
            Activation::Relu,
        ] {
            let mut layout = ParamLayout::new();
            let mlp = Sequential::mlp(&mut layout, "enc", 3, &[6, 4], act, Init::ZEROS).unwrap();
            assert_eq!(mlp.out_size, 4);
            assert_eq!(layout.get("enc.2.weight").unwrap().shape, vec![4, 6]);
            let p = fill_random(layout.len(), 0.8, &mut rng);
            let batch = 3;
            let x = fill_random(batch * 3, 1.0, &mut rng);
            let w = fill_random(batch * 4, 1.0, &mut rng);
            let mut tape = mlp.tape(batch);
            mlp.forward(&p, &x, batch, &mut tape);
            let mut g = vec![0.0; layout.len()];
            let mut dx = vec![0.0; x.len()];
            mlp.backward(&p, &mut g, &x, &mut tape, &w, Some(&mut dx));
            let mut t2 = mlp.tape(batch);
            let mut loss_p = |p: &[f32]| {
                mlp.forward(p, &x, batch, &mut t2);
                weighted_sum(t2.output(), &w)
            };
            check_gradient(&mut loss_p, &p, &g, 5e-3, 1e-3, 5e-2)
                .unwrap_or_else(|e| panic!("{act:?} params: {e}"));
            let mut loss_x = |x: &[f32]| {
                mlp.forward(&p, x, batch, &mut t2);
                weighted_sum(t2.output(), &w)
            };
            check_gradient(&mut loss_x, &x, &dx, 5e-3, 1e-3, 5e-2)
                .unwrap_or_else(|e| panic!("{act:?} inputs: {e}"));
        }
    }
}
