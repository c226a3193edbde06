//! GRU over a sequence with backprop through time, and a single-step acting path.
//!
//! PyTorch's `nn.GRU` equations and gate order (r, z, n):
//! `r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)`, `z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) * n + z * h`.
//! Both biases are kept because `b_hn` sits inside the reset gate's product.
//! Same structure as the LSTM: one GEMM for the input projection of all steps, a recurrent
//! product per step, fused gates, one GEMM per weight gradient after the backward sweep.

use crate::error::{nonzero, NnError};
use crate::kernels::{self, multiversion, sigmoid_approx, tanh_approx, Trans};
use crate::lstm::{prepare_recurrent_backward, recurrent_product, recurrent_product_backward};
use crate::recurrent::{masked_copy, record_starts, zero_rows, RecurrentState};
use crate::{Init, ParamLayout, Slot};

/// A GRU layer. Parameters `{prefix}.weight_ih` `[3H, I]`, `{prefix}.weight_hh` `[3H, H]`,
/// `{prefix}.bias_ih` `[3H]`, `{prefix}.bias_hh` `[3H]`.
#[derive(Clone, Debug)]
pub struct Gru {
    pub input_size: usize,
    pub hidden_size: usize,
    pub weight_ih: Slot,
    pub weight_hh: Slot,
    pub bias_ih: Slot,
    pub bias_hh: Slot,
}

/// Forward record and backward scratch for up to `t_max` steps of `batch_max` rows.
#[derive(Clone, Debug)]
pub struct GruTape {
    t_max: usize,
    batch_max: usize,
    hidden: usize,
    steps: usize,
    batch: usize,
    /// Input projections, then post-activation gates `[T, B, 3H]` (r, z, n).
    gates: Vec<f32>,
    /// Recurrent projections `W_hh h + b_hh` `[T, B, 3H]` (only the n block is needed later).
    gh: Vec<f32>,
    h_in: Vec<f32>,
    hs: Vec<f32>,
    starts: Vec<bool>,
    /// Gradients w.r.t. the input projections and the recurrent projections, `[T, B, 3H]`.
    dgx: Vec<f32>,
    dgh: Vec<f32>,
    dh: Vec<f32>,
    dh_next: Vec<f32>,
    /// `W_hh^T` `[H, 3H]`, written once per backward pass where used (see `LstmTape`).
    w_hh_t: Vec<f32>,
}

impl GruTape {
    pub fn new(t_max: usize, batch_max: usize, hidden: usize) -> Self {
        let rows = t_max * batch_max;
        Self {
            t_max,
            batch_max,
            hidden,
            steps: 0,
            batch: 0,
            gates: vec![0.0; rows * 3 * hidden],
            gh: vec![0.0; rows * 3 * hidden],
            h_in: vec![0.0; rows * hidden],
            hs: vec![0.0; rows * hidden],
            starts: vec![false; rows],
            dgx: vec![0.0; rows * 3 * hidden],
            dgh: vec![0.0; rows * 3 * hidden],
            dh: vec![0.0; batch_max * hidden],
            dh_next: vec![0.0; batch_max * hidden],
            w_hh_t: vec![0.0; 3 * hidden * hidden],
        }
    }

    /// The outputs `h_t` of the last forward pass, `[steps, batch, hidden]`.
    pub fn outputs(&self) -> &[f32] {
        &self.hs[..self.steps * self.batch * self.hidden]
    }

    pub fn shape(&self) -> (usize, usize) {
        (self.steps, self.batch)
    }
}

/// Scratch for [`Gru::step`].
#[derive(Clone, Debug)]
pub struct GruStepScratch {
    batch_max: usize,
    gx: Vec<f32>,
    gh: Vec<f32>,
    h_prev: Vec<f32>,
}

impl GruStepScratch {
    pub fn new(batch_max: usize, hidden: usize) -> Self {
        Self {
            batch_max,
            gx: vec![0.0; batch_max * 3 * hidden],
            gh: vec![0.0; batch_max * 3 * hidden],
            h_prev: vec![0.0; batch_max * hidden],
        }
    }

    /// The gates of the last [`Gru::step`] of `batch` rows, after their non-linearities:
    /// `[batch, 3H]`, each row `r, z, n` (reset, update, candidate), so that
    /// `h' = n + z * (h - n)` exactly as the step computed it.
    pub fn gates(&self, batch: usize) -> &[f32] {
        let hidden = self.h_prev.len() / self.batch_max.max(1);
        &self.gx[..batch * 3 * hidden]
    }
}

multiversion! {
    /// Gates and new state of `rows` rows: `gx` (input projection, overwritten by the
    /// activated r, z, n) and `gh` (recurrent projection incl. `b_hh`) in, `h` out.
    pub fn gru_cell_forward(
        gx: &mut [f32],
        gh: &[f32],
        h_prev: &[f32],
        h: &mut [f32],
        rows: usize,
        hidden: usize
    ) {
        let hd = hidden;
        for r in 0..rows {
            let x = &mut gx[r * 3 * hd..(r + 1) * 3 * hd];
            let hh = &gh[r * 3 * hd..(r + 1) * 3 * hd];
            let hp = &h_prev[r * hd..(r + 1) * hd];
            let ho = &mut h[r * hd..(r + 1) * hd];
            // Eight units at a time through local arrays (see `lstm_cell_forward`: LLVM cannot
            // rule out overlap between the gate blocks of one row and would not vectorise).
            let mut k = 0;
            while k + 8 <= hd {
                let load = |v: &[f32], at: usize| -> [f32; 8] {
                    let mut a = [0.0; 8];
                    a.copy_from_slice(&v[at..at + 8]);
                    a
                };
                let (xr, xz, xn) = (load(x, k), load(x, hd + k), load(x, 2 * hd + k));
                let (hr, hz, hn) = (load(hh, k), load(hh, hd + k), load(hh, 2 * hd + k));
                let hpv = load(hp, k);
                let (mut rv, mut zv, mut nv, mut hv) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
                for l in 0..8 {
                    rv[l] = sigmoid_approx(xr[l] + hr[l]);
                    zv[l] = sigmoid_approx(xz[l] + hz[l]);
                    nv[l] = tanh_approx(xn[l] + rv[l] * hn[l]);
                    hv[l] = nv[l] + zv[l] * (hpv[l] - nv[l]);
                }
                x[k..k + 8].copy_from_slice(&rv);
                x[hd + k..hd + k + 8].copy_from_slice(&zv);
                x[2 * hd + k..2 * hd + k + 8].copy_from_slice(&nv);
                ho[k..k + 8].copy_from_slice(&hv);
                k += 8;
            }
            for k in k..hd {
                let rv = sigmoid_approx(x[k] + hh[k]);
                let zv = sigmoid_approx(x[hd + k] + hh[hd + k]);
                let nv = tanh_approx(x[2 * hd + k] + rv * hh[2 * hd + k]);
                x[k] = rv;
                x[hd + k] = zv;
                x[2 * hd + k] = nv;
                ho[k] = nv + zv * (hp[k] - nv);
            }
        }
    }
}

multiversion! {
    /// Backward through the gates of `rows` rows given `dh` (total d loss / d h'): writes the
    /// gradients of the input projection `dgx`, of the recurrent projection `dgh`, and the
    /// direct part `z * dh` of d loss / d h into `dh_prev`.
    pub fn gru_cell_backward(
        gates: &[f32],
        gh: &[f32],
        h_prev: &[f32],
        dh: &[f32],
        dgx: &mut [f32],
        dgh: &mut [f32],
        dh_prev: &mut [f32],
        rows: usize,
        hidden: usize
    ) {
        let hd = hidden;
        for r in 0..rows {
            let gt = &gates[r * 3 * hd..(r + 1) * 3 * hd];
            let hh = &gh[r * 3 * hd..(r + 1) * 3 * hd];
            let hp = &h_prev[r * hd..(r + 1) * hd];
            let d = &dh[r * hd..(r + 1) * hd];
            let dx = &mut dgx[r * 3 * hd..(r + 1) * 3 * hd];
            let dhh = &mut dgh[r * 3 * hd..(r + 1) * 3 * hd];
            let dp = &mut dh_prev[r * hd..(r + 1) * hd];
            for k in 0..hd {
                let (rv, zv, nv) = (gt[k], gt[hd + k], gt[2 * hd + k]);
                let dk = d[k];
                let dn = dk * (1.0 - zv) * (1.0 - nv * nv);
                let dz = dk * (hp[k] - nv) * zv * (1.0 - zv);
                let dr = dn * hh[2 * hd + k] * rv * (1.0 - rv);
                dx[k] = dr;
                dx[hd + k] = dz;
                dx[2 * hd + k] = dn;
                dhh[k] = dr;
                dhh[hd + k] = dz;
                dhh[2 * hd + k] = dn * rv;
                dp[k] = dk * zv;
            }
        }
    }
}

impl Gru {
    /// `Init::UniformFanIn` weights and zero biases (PyTorch uses `±1/sqrt(hidden)` for all
    /// tensors; see [`Lstm::new`](crate::Lstm::new)).
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        input_size: usize,
        hidden_size: usize,
    ) -> Result<Self, NnError> {
        Self::with_init(
            layout,
            prefix,
            input_size,
            hidden_size,
            Init::UniformFanIn,
            Init::UniformFanIn,
            Init::ZEROS,
        )
    }

    pub fn with_init(
        layout: &mut ParamLayout,
        prefix: &str,
        input_size: usize,
        hidden_size: usize,
        weight_ih_init: Init,
        weight_hh_init: Init,
        bias_init: Init,
    ) -> Result<Self, NnError> {
        let ctx = format!("GRU `{prefix}`");
        nonzero(&ctx, "input_size", input_size)?;
        nonzero(&ctx, "hidden_size", hidden_size)?;
        let g = 3 * hidden_size;
        Ok(Self {
            input_size,
            hidden_size,
            weight_ih: layout.matrix(format!("{prefix}.weight_ih"), g, input_size, weight_ih_init),
            weight_hh: layout.matrix(
                format!("{prefix}.weight_hh"),
                g,
                hidden_size,
                weight_hh_init,
            ),
            bias_ih: layout.vector(format!("{prefix}.bias_ih"), g, bias_init),
            bias_hh: layout.vector(format!("{prefix}.bias_hh"), g, bias_init),
        })
    }

    pub fn tape(&self, t_max: usize, batch_max: usize) -> GruTape {
        GruTape::new(t_max, batch_max, self.hidden_size)
    }

    pub fn zero_state(&self, batch: usize) -> RecurrentState {
        RecurrentState::zeros(batch, self.hidden_size, false)
    }

    /// Same contract as [`Lstm::forward_seq`](crate::Lstm::forward_seq) (state without cell).
    pub fn forward_seq(
        &self,
        p: &[f32],
        xs: &[f32],
        steps: usize,
        starts: Option<&[bool]>,
        state: &mut RecurrentState,
        tape: &mut GruTape,
    ) {
        let (hd, n_in, g) = (self.hidden_size, self.input_size, 3 * self.hidden_size);
        let batch = state.batch;
        state.check("Gru::forward_seq", batch, hd, false);
        assert!(
            tape.hidden == hd && steps <= tape.t_max && batch <= tape.batch_max,
            "Gru::forward_seq: tape sized for {} steps x {} rows of hidden {}, called with {steps} x {batch} of {hd}",
            tape.t_max,
            tape.batch_max,
            tape.hidden
        );
        let rows = steps * batch;
        assert_eq!(
            xs.len(),
            rows * n_in,
            "Gru::forward_seq: xs must be [steps={steps}, batch={batch}, input={n_in}]"
        );
        record_starts("Gru::forward_seq", starts, steps, batch, &mut tape.starts);
        tape.steps = steps;
        tape.batch = batch;
        if steps == 0 {
            return;
        }
        let w_hh = self.weight_hh.of(p);
        let b_hh = self.bias_hh.of(p);
        let gx = &mut tape.gates[..rows * g];
        kernels::broadcast_rows(self.bias_ih.of(p), rows, gx);
        kernels::gemm(
            Trans::No,
            Trans::Yes,
            rows,
            g,
            n_in,
            1.0,
            xs,
            n_in,
            self.weight_ih.of(p),
            n_in,
            1.0,
            gx,
            g,
        );
        let bh = batch * hd;
        for t in 0..steps {
            let st = &tape.starts[t * batch..(t + 1) * batch];
            let (hs_done, hs_rest) = tape.hs.split_at_mut(t * bh);
            let h_prev: &[f32] = if t == 0 {
                &state.h
            } else {
                &hs_done[(t - 1) * bh..]
            };
            let h_in = &mut tape.h_in[t * bh..(t + 1) * bh];
            masked_copy(h_prev, h_in, st, hd);
            let gh_t = &mut tape.gh[t * batch * g..(t + 1) * batch * g];
            kernels::broadcast_rows(b_hh, batch, gh_t);
            recurrent_product(w_hh, g, hd, h_in, batch, gh_t);
            gru_cell_forward(
                &mut tape.gates[t * batch * g..(t + 1) * batch * g],
                gh_t,
                h_in,
                &mut hs_rest[..bh],
                batch,
                hd,
            );
        }
        state
            .h
            .copy_from_slice(&tape.hs[(steps - 1) * bh..steps * bh]);
    }

    /// Same contract as [`Lstm::backward_seq`](crate::Lstm::backward_seq).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_seq(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        dys: &[f32],
        d_final: Option<&RecurrentState>,
        tape: &mut GruTape,
        dxs: Option<&mut [f32]>,
        d_initial: Option<&mut RecurrentState>,
    ) {
        let (hd, n_in, gw) = (self.hidden_size, self.input_size, 3 * self.hidden_size);
        let (steps, batch) = (tape.steps, tape.batch);
        let rows = steps * batch;
        let bh = batch * hd;
        assert_eq!(
            xs.len(),
            rows * n_in,
            "Gru::backward_seq: xs differs from the forward pass"
        );
        assert_eq!(
            dys.len(),
            rows * hd,
            "Gru::backward_seq: dys must be [steps, batch, hidden]"
        );
        if steps == 0 {
            return;
        }
        let w_hh = self.weight_hh.of(p);
        prepare_recurrent_backward(w_hh, gw, hd, batch, &mut tape.w_hh_t);
        let dh_next = &mut tape.dh_next[..bh];
        match d_final {
            Some(s) => {
                s.check("Gru::backward_seq d_final", batch, hd, false);
                dh_next.copy_from_slice(&s.h);
            }
            None => dh_next.fill(0.0),
        }
        for t in (0..steps).rev() {
            let dh = &mut tape.dh[..bh];
            for ((d, &a), &b) in dh.iter_mut().zip(&dys[t * bh..(t + 1) * bh]).zip(&*dh_next) {
                *d = a + b;
            }
            let dgh_t = &mut tape.dgh[t * batch * gw..(t + 1) * batch * gw];
            gru_cell_backward(
                &tape.gates[t * batch * gw..(t + 1) * batch * gw],
                &tape.gh[t * batch * gw..(t + 1) * batch * gw],
                &tape.h_in[t * bh..(t + 1) * bh],
                dh,
                &mut tape.dgx[t * batch * gw..(t + 1) * batch * gw],
                dgh_t,
                dh_next,
                batch,
                hd,
            );
            recurrent_product_backward(w_hh, &tape.w_hh_t, gw, hd, dgh_t, batch, dh_next, true);
            zero_rows(dh_next, &tape.starts[t * batch..(t + 1) * batch], hd);
        }
        if let Some(d0) = d_initial {
            d0.check("Gru::backward_seq d_initial", batch, hd, false);
            d0.h.iter_mut().zip(&*dh_next).for_each(|(a, b)| *a += b);
        }
        let dgx = &tape.dgx[..rows * gw];
        let dgh = &tape.dgh[..rows * gw];
        kernels::gemm(
            Trans::Yes,
            Trans::No,
            gw,
            n_in,
            rows,
            1.0,
            dgx,
            gw,
            xs,
            n_in,
            1.0,
            self.weight_ih.of_mut(g),
            n_in,
        );
        kernels::gemm(
            Trans::Yes,
            Trans::No,
            gw,
            hd,
            rows,
            1.0,
            dgh,
            gw,
            &tape.h_in[..rows * hd],
            hd,
            1.0,
            self.weight_hh.of_mut(g),
            hd,
        );
        kernels::add_column_sums(dgx, rows, self.bias_ih.of_mut(g));
        kernels::add_column_sums(dgh, rows, self.bias_hh.of_mut(g));
        if let Some(dxs) = dxs {
            assert_eq!(
                dxs.len(),
                rows * n_in,
                "Gru::backward_seq: dxs must match xs"
            );
            kernels::gemm(
                Trans::No,
                Trans::No,
                rows,
                n_in,
                gw,
                1.0,
                dgx,
                gw,
                self.weight_ih.of(p),
                n_in,
                1.0,
                dxs,
                n_in,
            );
        }
    }

    /// One step for acting; `state.h` is the output. Allocates nothing.
    pub fn step(
        &self,
        p: &[f32],
        x: &[f32],
        state: &mut RecurrentState,
        scratch: &mut GruStepScratch,
    ) {
        let (hd, n_in, g) = (self.hidden_size, self.input_size, 3 * self.hidden_size);
        let batch = state.batch;
        state.check("Gru::step", batch, hd, false);
        assert!(
            batch <= scratch.batch_max && scratch.gx.len() >= batch * g,
            "Gru::step: scratch too small for batch {batch}"
        );
        assert_eq!(
            x.len(),
            batch * n_in,
            "Gru::step: x must be [batch={batch}, input={n_in}]"
        );
        let gx = &mut scratch.gx[..batch * g];
        let gh = &mut scratch.gh[..batch * g];
        kernels::broadcast_rows(self.bias_ih.of(p), batch, gx);
        kernels::broadcast_rows(self.bias_hh.of(p), batch, gh);
        if batch == 1 {
            kernels::gemv(self.weight_ih.of(p), g, n_in, x, gx, true);
        } else {
            kernels::gemm(
                Trans::No,
                Trans::Yes,
                batch,
                g,
                n_in,
                1.0,
                x,
                n_in,
                self.weight_ih.of(p),
                n_in,
                1.0,
                gx,
                g,
            );
        }
        recurrent_product(self.weight_hh.of(p), g, hd, &state.h, batch, gh);
        let h_prev = &mut scratch.h_prev[..batch * hd];
        h_prev.copy_from_slice(&state.h);
        gru_cell_forward(gx, gh, h_prev, &mut state.h, batch, hd);
    }
}

impl Gru {
    /// [`Gru::step`], returning its gates (see [`GruStepScratch::gates`]).
    pub fn step_recording<'s>(
        &self,
        p: &[f32],
        x: &[f32],
        state: &mut RecurrentState,
        scratch: &'s mut GruStepScratch,
    ) -> &'s [f32] {
        self.step(p, x, state, scratch);
        scratch.gates(state.batch)
    }

    /// Writes one step of the cell into an ONNX graph, from `x` `[batch, input]` and `h`
    /// `[batch, hidden]`; returns `h'` (PyTorch's equations, gate order r, z, n).
    pub fn onnx_step(&self, g: &mut crate::onnx::Graph, p: &[f32], x: &str, h: &str) -> String {
        use crate::onnx::Attr;
        let width = 3 * self.hidden_size;
        let gx = g.linear(x, self.weight_ih.of(p), Some(self.bias_ih.of(p)), width);
        let gh = g.linear(h, self.weight_hh.of(p), Some(self.bias_hh.of(p)), width);
        let split = vec![("axis", Attr::Int(1))];
        let xs = g.op_n("Split", &[&gx], 3, split.clone());
        let hs = g.op_n("Split", &[&gh], 3, split);
        let r_in = g.op("Add", &[&xs[0], &hs[0]], Vec::new());
        let r = g.op("Sigmoid", &[&r_in], Vec::new());
        let z_in = g.op("Add", &[&xs[1], &hs[1]], Vec::new());
        let z = g.op("Sigmoid", &[&z_in], Vec::new());
        let gated = g.op("Mul", &[&r, &hs[2]], Vec::new());
        let n_in = g.op("Add", &[&xs[2], &gated], Vec::new());
        let n = g.op("Tanh", &[&n_in], Vec::new());
        // h' = (1 - z) n + z h = n + z (h - n)
        let diff = g.op("Sub", &[h, &n], Vec::new());
        let moved = g.op("Mul", &[&z, &diff], Vec::new());
        g.op("Add", &[&n, &moved], Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded gates are the step's own: `h' = n + z * (h - n)` recomputed from them gives
    /// the step's state bit for bit (hidden 13: the eight-wide body and the scalar tail).
    #[test]
    fn recorded_gates_reproduce_the_step_bit_for_bit() {
        use rand::SeedableRng;
        let (n_in, hd, batch) = (5, 13, 2);
        let mut layout = ParamLayout::new();
        let gru = Gru::new(&mut layout, "core", n_in, hd).unwrap();
        let p = layout.initialize(&mut rand_chacha::ChaCha8Rng::seed_from_u64(4));
        let mut state = gru.zero_state(batch);
        let mut scratch = GruStepScratch::new(batch, hd);
        for t in 0..6 {
            let x: Vec<f32> = (0..batch * n_in)
                .map(|v| ((v * 5 + t * 3) % 13) as f32 * 0.25 - 1.5)
                .collect();
            let h_prev = state.h.clone();
            let gates = gru
                .step_recording(&p, &x, &mut state, &mut scratch)
                .to_vec();
            assert_eq!(gates.len(), batch * 3 * hd);
            for r in 0..batch {
                for k in 0..hd {
                    let g = |block: usize| gates[r * 3 * hd + block * hd + k];
                    let h = g(2) + g(1) * (h_prev[r * hd + k] - g(2));
                    assert_eq!(h.to_bits(), state.h[r * hd + k].to_bits(), "h, step {t}");
                }
            }
        }
    }

    /// The eight-wide body and the scalar tail of the fused GRU cell give exactly the per-unit
    /// formula (hidden 13 = one block of 8 plus a tail of 5, on 3 rows).
    #[test]
    fn cell_forward_equals_per_unit_formula_in_blocks_and_tail() {
        let (rows, hd) = (3, 13);
        let wave = |n: usize, a: usize, s: f32| -> Vec<f32> {
            (0..n).map(|v| ((v * a % 101) as f32 - 50.0) * s).collect()
        };
        let gx = wave(rows * 3 * hd, 37, 0.07);
        let gh = wave(rows * 3 * hd, 53, 0.05);
        let h_prev = wave(rows * hd, 29, 0.02);
        let mut gates = gx.clone();
        let mut h = vec![0.0; rows * hd];
        gru_cell_forward(&mut gates, &gh, &h_prev, &mut h, rows, hd);
        for r in 0..rows {
            for k in 0..hd {
                let g0 = r * 3 * hd;
                let rv = sigmoid_approx(gx[g0 + k] + gh[g0 + k]);
                let zv = sigmoid_approx(gx[g0 + hd + k] + gh[g0 + hd + k]);
                let nv = tanh_approx(gx[g0 + 2 * hd + k] + rv * gh[g0 + 2 * hd + k]);
                let hv = nv + zv * (h_prev[r * hd + k] - nv);
                assert_eq!(
                    [
                        gates[g0 + k],
                        gates[g0 + hd + k],
                        gates[g0 + 2 * hd + k],
                        h[r * hd + k]
                    ],
                    [rv, zv, nv, hv],
                    "row {r} unit {k}"
                );
            }
        }
    }
}
