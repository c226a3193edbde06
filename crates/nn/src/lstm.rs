//! LSTM over a sequence with backprop through time, and a single-step acting path.
//!
//! Equations and gate order follow PyTorch's `nn.LSTM` (i, f, g, o):
//! `gates = W_ih x + W_hh h + b`, `i, f, o = sigmoid(.)`, `g = tanh(.)`,
//! `c' = f * c + i * g`, `h' = o * tanh(c')`. PyTorch's two biases are one here (`b_ih + b_hh`).
//!
//! Speed: the input projection of all `T` steps is one GEMM; per step only the recurrent
//! product remains (a matrix-vector product at batch 1; above, [`kernels::gemm_nt`] for small
//! `W_hh`, a GEMM for large); the non-linearities and the cell update are one fused, vectorised
//! pass; the backward sweep stores the gate gradients of all steps so that `dW_ih`, `dW_hh`, the
//! bias and the input gradients are one GEMM each afterwards.

use crate::error::{nonzero, NnError};
use crate::kernels::{self, multiversion, sigmoid_approx, tanh_approx, Trans};
use crate::recurrent::{masked_copy, record_starts, zero_rows, RecurrentState};
use crate::{Init, ParamLayout, Slot};

/// An LSTM layer. Parameters `{prefix}.weight_ih` `[4H, I]`, `{prefix}.weight_hh` `[4H, H]`,
/// `{prefix}.bias` `[4H]`.
#[derive(Clone, Debug)]
pub struct Lstm {
    pub input_size: usize,
    pub hidden_size: usize,
    pub weight_ih: Slot,
    pub weight_hh: Slot,
    pub bias: Slot,
}

/// Everything a forward pass over a sequence keeps for the backward pass, plus the backward
/// pass's own scratch. Sized once for at most `t_max` steps of `batch_max` rows; reused.
#[derive(Clone, Debug)]
pub struct LstmTape {
    t_max: usize,
    batch_max: usize,
    hidden: usize,
    steps: usize,
    batch: usize,
    /// Post-activation gates `[T, B, 4H]` (i, f, g, o).
    gates: Vec<f32>,
    /// Incoming (already reset) states of each step, `[T, B, H]`.
    h_in: Vec<f32>,
    c_in: Vec<f32>,
    /// `tanh(c')` of each step, `[T, B, H]`.
    tanh_c: Vec<f32>,
    /// Outputs `h'` of each step, `[T, B, H]`.
    hs: Vec<f32>,
    starts: Vec<bool>,
    /// Pre-activation gate gradients of all steps `[T, B, 4H]`.
    dgates: Vec<f32>,
    dh: Vec<f32>,
    dh_next: Vec<f32>,
    dc: Vec<f32>,
    /// `W_hh^T` `[H, 4H]`, written once per backward pass where each step's `dh = dgates W_hh`
    /// runs as a product of contiguous rows ([`kernels::gemm_nt`]).
    w_hh_t: Vec<f32>,
}

impl LstmTape {
    pub fn new(t_max: usize, batch_max: usize, hidden: usize) -> Self {
        let rows = t_max * batch_max;
        Self {
            t_max,
            batch_max,
            hidden,
            steps: 0,
            batch: 0,
            gates: vec![0.0; rows * 4 * hidden],
            h_in: vec![0.0; rows * hidden],
            c_in: vec![0.0; rows * hidden],
            tanh_c: vec![0.0; rows * hidden],
            hs: vec![0.0; rows * hidden],
            starts: vec![false; rows],
            dgates: vec![0.0; rows * 4 * hidden],
            dh: vec![0.0; batch_max * hidden],
            dh_next: vec![0.0; batch_max * hidden],
            dc: vec![0.0; batch_max * hidden],
            w_hh_t: vec![0.0; 4 * hidden * hidden],
        }
    }

    /// The outputs `h_t` of the last forward pass, `[steps, batch, hidden]`.
    pub fn outputs(&self) -> &[f32] {
        &self.hs[..self.steps * self.batch * self.hidden]
    }

    /// Steps and batch rows of the last forward pass.
    pub fn shape(&self) -> (usize, usize) {
        (self.steps, self.batch)
    }
}

/// Scratch for [`Lstm::step`], sized once for `batch_max` rows.
#[derive(Clone, Debug)]
pub struct LstmStepScratch {
    batch_max: usize,
    gates: Vec<f32>,
    c_prev: Vec<f32>,
    tanh_c: Vec<f32>,
}

impl LstmStepScratch {
    pub fn new(batch_max: usize, hidden: usize) -> Self {
        Self {
            batch_max,
            gates: vec![0.0; batch_max * 4 * hidden],
            c_prev: vec![0.0; batch_max * hidden],
            tanh_c: vec![0.0; batch_max * hidden],
        }
    }

    /// The gates of the last [`Lstm::step`] of `batch` rows, after their non-linearities:
    /// `[batch, 4H]`, each row `i, f, g, o` (input, forget, candidate, output), so that
    /// `c' = f * c + i * g` and `h' = o * tanh(c')` exactly as the step computed them.
    pub fn gates(&self, batch: usize) -> &[f32] {
        let hidden = self.c_prev.len() / self.batch_max.max(1);
        &self.gates[..batch * 4 * hidden]
    }
}

multiversion! {
    /// Gate non-linearities and cell update of `rows` rows, fused in one pass:
    /// `gates` pre-activation in, post-activation out.
    pub fn lstm_cell_forward(
        gates: &mut [f32],
        c_prev: &[f32],
        c: &mut [f32],
        tanh_c: &mut [f32],
        h: &mut [f32],
        rows: usize,
        hidden: usize
    ) {
        let hd = hidden;
        for r in 0..rows {
            let gr = &mut gates[r * 4 * hd..(r + 1) * 4 * hd];
            let (ifg, o) = gr.split_at_mut(3 * hd);
            let (i_f, g) = ifg.split_at_mut(2 * hd);
            let (i, f) = i_f.split_at_mut(hd);
            let cp = &c_prev[r * hd..(r + 1) * hd];
            let cr = &mut c[r * hd..(r + 1) * hd];
            let tr = &mut tanh_c[r * hd..(r + 1) * hd];
            let hr = &mut h[r * hd..(r + 1) * hd];
            // Eight units at a time through local arrays: LLVM cannot tell that the gate
            // slices (all cut from one row) do not overlap, and would not vectorise over them.
            let mut k = 0;
            while k + 8 <= hd {
                let load = |v: &[f32]| -> [f32; 8] {
                    let mut a = [0.0; 8];
                    a.copy_from_slice(&v[k..k + 8]);
                    a
                };
                let (mut iv, mut fv, mut gv, mut ov) = (load(i), load(f), load(g), load(o));
                let cpv = load(cp);
                let (mut cv, mut tv, mut hv) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
                for l in 0..8 {
                    iv[l] = sigmoid_approx(iv[l]);
                    fv[l] = sigmoid_approx(fv[l]);
                    gv[l] = tanh_approx(gv[l]);
                    ov[l] = sigmoid_approx(ov[l]);
                    cv[l] = fv[l] * cpv[l] + iv[l] * gv[l];
                    tv[l] = tanh_approx(cv[l]);
                    hv[l] = ov[l] * tv[l];
                }
                i[k..k + 8].copy_from_slice(&iv);
                f[k..k + 8].copy_from_slice(&fv);
                g[k..k + 8].copy_from_slice(&gv);
                o[k..k + 8].copy_from_slice(&ov);
                cr[k..k + 8].copy_from_slice(&cv);
                tr[k..k + 8].copy_from_slice(&tv);
                hr[k..k + 8].copy_from_slice(&hv);
                k += 8;
            }
            for k in k..hd {
                let iv = sigmoid_approx(i[k]);
                let fv = sigmoid_approx(f[k]);
                let gv = tanh_approx(g[k]);
                let ov = sigmoid_approx(o[k]);
                i[k] = iv;
                f[k] = fv;
                g[k] = gv;
                o[k] = ov;
                let cv = fv * cp[k] + iv * gv;
                let tc = tanh_approx(cv);
                cr[k] = cv;
                tr[k] = tc;
                hr[k] = ov * tc;
            }
        }
    }
}

multiversion! {
    /// Backward through the gates and cell of `rows` rows: reads `dh` (total d loss / d h')
    /// and `dc` (d loss / d c' from later steps), writes the pre-activation gate gradients and
    /// replaces `dc` by d loss / d c (the incoming cell state).
    pub fn lstm_cell_backward(
        gates: &[f32],
        c_prev: &[f32],
        tanh_c: &[f32],
        dh: &[f32],
        dc: &mut [f32],
        dgates: &mut [f32],
        rows: usize,
        hidden: usize
    ) {
        let hd = hidden;
        for r in 0..rows {
            let gr = &gates[r * 4 * hd..(r + 1) * 4 * hd];
            let dg = &mut dgates[r * 4 * hd..(r + 1) * 4 * hd];
            let (d_ifg, d_o) = dg.split_at_mut(3 * hd);
            let (d_if, d_g) = d_ifg.split_at_mut(2 * hd);
            let (d_i, d_f) = d_if.split_at_mut(hd);
            let cp = &c_prev[r * hd..(r + 1) * hd];
            let tr = &tanh_c[r * hd..(r + 1) * hd];
            let dhr = &dh[r * hd..(r + 1) * hd];
            let dcr = &mut dc[r * hd..(r + 1) * hd];
            for k in 0..hd {
                let iv = gr[k];
                let fv = gr[hd + k];
                let gv = gr[2 * hd + k];
                let ov = gr[3 * hd + k];
                let tc = tr[k];
                let dhk = dhr[k];
                let dct = dcr[k] + dhk * ov * (1.0 - tc * tc);
                d_o[k] = dhk * tc * ov * (1.0 - ov);
                d_i[k] = dct * gv * iv * (1.0 - iv);
                d_g[k] = dct * iv * (1.0 - gv * gv);
                d_f[k] = dct * cp[k] * fv * (1.0 - fv);
                dcr[k] = dct * fv;
            }
        }
    }
}

impl Lstm {
    /// Registers the parameters with `Init::UniformFanIn` weights and zero bias. (PyTorch
    /// draws *all* LSTM tensors from `±1/sqrt(hidden)`; here `weight_ih` uses its own fan-in,
    /// `1/sqrt(input)`. Use [`with_init`](Self::with_init) to choose.)
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

    /// Registers the parameters with the given initialisers (e.g. orthogonal weights and
    /// `Init::LstmBias { forget: 1.0 }`).
    pub fn with_init(
        layout: &mut ParamLayout,
        prefix: &str,
        input_size: usize,
        hidden_size: usize,
        weight_ih_init: Init,
        weight_hh_init: Init,
        bias_init: Init,
    ) -> Result<Self, NnError> {
        let ctx = format!("LSTM `{prefix}`");
        nonzero(&ctx, "input_size", input_size)?;
        nonzero(&ctx, "hidden_size", hidden_size)?;
        let g = 4 * hidden_size;
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
            bias: layout.vector(format!("{prefix}.bias"), g, bias_init),
        })
    }

    /// A tape for sequences of up to `t_max` steps and `batch_max` rows.
    pub fn tape(&self, t_max: usize, batch_max: usize) -> LstmTape {
        LstmTape::new(t_max, batch_max, self.hidden_size)
    }

    /// A zero initial state for `batch` rows.
    pub fn zero_state(&self, batch: usize) -> RecurrentState {
        RecurrentState::zeros(batch, self.hidden_size, true)
    }

    /// Runs `steps` steps over `xs` `[steps, batch, input]`. `state` holds the initial state on
    /// entry and the final state on return. `starts[t * batch + b]` (optional) zeroes the state
    /// entering step `t` in row `b`. Outputs are in [`LstmTape::outputs`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward_seq(
        &self,
        p: &[f32],
        xs: &[f32],
        steps: usize,
        starts: Option<&[bool]>,
        state: &mut RecurrentState,
        tape: &mut LstmTape,
    ) {
        let (hd, n_in, g) = (self.hidden_size, self.input_size, 4 * self.hidden_size);
        let batch = state.batch;
        state.check("Lstm::forward_seq", batch, hd, true);
        assert!(
            tape.hidden == hd && steps <= tape.t_max && batch <= tape.batch_max,
            "Lstm::forward_seq: tape sized for {} steps x {} rows of hidden {}, called with {steps} x {batch} of {hd}",
            tape.t_max,
            tape.batch_max,
            tape.hidden
        );
        let rows = steps * batch;
        assert_eq!(
            xs.len(),
            rows * n_in,
            "Lstm::forward_seq: xs must be [steps={steps}, batch={batch}, input={n_in}]"
        );
        record_starts("Lstm::forward_seq", starts, steps, batch, &mut tape.starts);
        tape.steps = steps;
        tape.batch = batch;
        if steps == 0 {
            return;
        }
        let w_ih = self.weight_ih.of(p);
        let w_hh = self.weight_hh.of(p);
        let bias = self.bias.of(p);

        let gates = &mut tape.gates[..rows * g];
        kernels::broadcast_rows(bias, rows, gates);
        kernels::gemm(
            Trans::No,
            Trans::Yes,
            rows,
            g,
            n_in,
            1.0,
            xs,
            n_in,
            w_ih,
            n_in,
            1.0,
            gates,
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
            let c_in = &mut tape.c_in[t * bh..(t + 1) * bh];
            masked_copy(&state.c, c_in, st, hd);
            let gates_t = &mut tape.gates[t * batch * g..(t + 1) * batch * g];
            recurrent_product(w_hh, g, hd, h_in, batch, gates_t);
            lstm_cell_forward(
                gates_t,
                c_in,
                &mut state.c,
                &mut tape.tanh_c[t * bh..(t + 1) * bh],
                &mut hs_rest[..bh],
                batch,
                hd,
            );
        }
        state
            .h
            .copy_from_slice(&tape.hs[(steps - 1) * bh..steps * bh]);
    }

    /// Backprop through time over the last [`forward_seq`](Self::forward_seq) recorded in
    /// `tape`. `dys` `[steps, batch, hidden]` is d loss / d h_t for every step; `d_final`
    /// (optional) the gradient w.r.t. the final state. Adds the parameter gradients into `g`,
    /// d loss / d xs into `dxs` and d loss / d (initial state) into `d_initial` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_seq(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        dys: &[f32],
        d_final: Option<&RecurrentState>,
        tape: &mut LstmTape,
        dxs: Option<&mut [f32]>,
        d_initial: Option<&mut RecurrentState>,
    ) {
        let (hd, n_in, gw) = (self.hidden_size, self.input_size, 4 * self.hidden_size);
        let (steps, batch) = (tape.steps, tape.batch);
        let rows = steps * batch;
        let bh = batch * hd;
        assert_eq!(
            xs.len(),
            rows * n_in,
            "Lstm::backward_seq: xs differs from the forward pass"
        );
        assert_eq!(
            dys.len(),
            rows * hd,
            "Lstm::backward_seq: dys must be [steps, batch, hidden]"
        );
        if steps == 0 {
            return;
        }
        let w_ih = self.weight_ih.of(p);
        let w_hh = self.weight_hh.of(p);
        prepare_recurrent_backward(w_hh, gw, hd, batch, &mut tape.w_hh_t);
        let dh_next = &mut tape.dh_next[..bh];
        let dc = &mut tape.dc[..bh];
        match d_final {
            Some(s) => {
                s.check("Lstm::backward_seq d_final", batch, hd, true);
                dh_next.copy_from_slice(&s.h);
                dc.copy_from_slice(&s.c);
            }
            None => {
                dh_next.fill(0.0);
                dc.fill(0.0);
            }
        }
        for t in (0..steps).rev() {
            let dh = &mut tape.dh[..bh];
            for ((d, &a), &b) in dh.iter_mut().zip(&dys[t * bh..(t + 1) * bh]).zip(&*dh_next) {
                *d = a + b;
            }
            let dgates_t = &mut tape.dgates[t * batch * gw..(t + 1) * batch * gw];
            lstm_cell_backward(
                &tape.gates[t * batch * gw..(t + 1) * batch * gw],
                &tape.c_in[t * bh..(t + 1) * bh],
                &tape.tanh_c[t * bh..(t + 1) * bh],
                dh,
                dc,
                dgates_t,
                batch,
                hd,
            );
            // d loss / d h_in = dgates W_hh; rows that were reset pass nothing further back.
            recurrent_product_backward(w_hh, &tape.w_hh_t, gw, hd, dgates_t, batch, dh_next, false);
            let st = &tape.starts[t * batch..(t + 1) * batch];
            zero_rows(dh_next, st, hd);
            zero_rows(dc, st, hd);
        }
        if let Some(d0) = d_initial {
            d0.check("Lstm::backward_seq d_initial", batch, hd, true);
            d0.h.iter_mut().zip(&*dh_next).for_each(|(a, b)| *a += b);
            d0.c.iter_mut().zip(&*dc).for_each(|(a, b)| *a += b);
        }

        let dgates = &tape.dgates[..rows * gw];
        let h_in = &tape.h_in[..rows * hd];
        kernels::gemm(
            Trans::Yes,
            Trans::No,
            gw,
            n_in,
            rows,
            1.0,
            dgates,
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
            dgates,
            gw,
            h_in,
            hd,
            1.0,
            self.weight_hh.of_mut(g),
            hd,
        );
        kernels::add_column_sums(dgates, rows, self.bias.of_mut(g));
        if let Some(dxs) = dxs {
            assert_eq!(
                dxs.len(),
                rows * n_in,
                "Lstm::backward_seq: dxs must match xs"
            );
            kernels::gemm(
                Trans::No,
                Trans::No,
                rows,
                n_in,
                gw,
                1.0,
                dgates,
                gw,
                w_ih,
                n_in,
                1.0,
                dxs,
                n_in,
            );
        }
    }

    /// One step for acting: `x` `[batch, input]`, `state` updated in place (`state.h` is the
    /// output). At batch 1 it allocates nothing (matrix-vector products); above, the GEMM
    /// crate allocates its packing buffer per call. Reset rows beforehand with
    /// [`RecurrentState::reset_rows`].
    pub fn step(
        &self,
        p: &[f32],
        x: &[f32],
        state: &mut RecurrentState,
        scratch: &mut LstmStepScratch,
    ) {
        let (hd, n_in, g) = (self.hidden_size, self.input_size, 4 * self.hidden_size);
        let batch = state.batch;
        state.check("Lstm::step", batch, hd, true);
        assert!(
            batch <= scratch.batch_max && scratch.gates.len() >= batch * g,
            "Lstm::step: scratch sized for {} rows of hidden {}",
            scratch.batch_max,
            scratch.c_prev.len() / scratch.batch_max.max(1)
        );
        assert_eq!(
            x.len(),
            batch * n_in,
            "Lstm::step: x must be [batch={batch}, input={n_in}]"
        );
        let gates = &mut scratch.gates[..batch * g];
        let bias = self.bias.of(p);
        if batch == 1 {
            kernels::gemv(self.weight_ih.of(p), g, n_in, x, gates, false);
            gates.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        } else {
            kernels::broadcast_rows(bias, batch, gates);
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
                gates,
                g,
            );
        }
        recurrent_product(self.weight_hh.of(p), g, hd, &state.h, batch, gates);
        let c_prev = &mut scratch.c_prev[..batch * hd];
        c_prev.copy_from_slice(&state.c);
        lstm_cell_forward(
            gates,
            c_prev,
            &mut state.c,
            &mut scratch.tanh_c[..batch * hd],
            &mut state.h,
            batch,
            hd,
        );
    }
}

impl Lstm {
    /// [`Lstm::step`], returning its gates (see [`LstmStepScratch::gates`]) for a look
    /// inside the cell (`engram inspect`).
    pub fn step_recording<'s>(
        &self,
        p: &[f32],
        x: &[f32],
        state: &mut RecurrentState,
        scratch: &'s mut LstmStepScratch,
    ) -> &'s [f32] {
        self.step(p, x, state, scratch);
        scratch.gates(state.batch)
    }
}

/// Whether the batched recurrent products of a `[g, hd]` `W_hh` go through
/// [`kernels::gemm_nt`] (dot products against the rows as stored, nothing packed per step)
/// rather than [`kernels::gemm`]. Packing dominates small matrices (at `H = 64`, `B = 8`,
/// `gemm_nt` takes 3.6 us against 8.3 us), while large ones are faster in the GEMM crate's
/// register-blocked (AVX-512 where available) kernel (at `H = 256`, `B = 64`, 360 us against
/// 460 us). The choice depends on the layer only, never on the batch, so a row gets the same
/// bits whether it is stepped alone or in a sequence batch.
#[inline]
fn rowdot_pays_off(g: usize, hd: usize) -> bool {
    g * hd <= 64 * 1024
}

/// `gates[batch, g] += h[batch, hd] W_hh^T`: a matrix-vector product at batch 1; above,
/// [`kernels::gemm_nt`] for small `W_hh`, [`kernels::gemm`] for large (see [`rowdot_pays_off`]).
#[inline]
pub(crate) fn recurrent_product(
    w_hh: &[f32],
    g: usize,
    hd: usize,
    h: &[f32],
    batch: usize,
    gates: &mut [f32],
) {
    if batch == 1 {
        kernels::gemv(w_hh, g, hd, h, gates, true);
    } else {
        kernels::add_times_weight_t(batch, g, hd, h, w_hh, gates, rowdot_pays_off(g, hd));
    }
}

/// Once per backward pass: writes `W_hh^T` `[hd, g]` into `w_hh_t` where
/// [`recurrent_product_backward`] will read it (batch > 1 and a small `W_hh`).
pub(crate) fn prepare_recurrent_backward(
    w_hh: &[f32],
    g: usize,
    hd: usize,
    batch: usize,
    w_hh_t: &mut [f32],
) {
    if batch > 1 && rowdot_pays_off(g, hd) {
        kernels::transpose(w_hh, g, hd, w_hh_t);
    }
}

/// `dh[batch, hd] (+)= dgates[batch, g] W_hh`, with `w_hh_t` as left by
/// [`prepare_recurrent_backward`].
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn recurrent_product_backward(
    w_hh: &[f32],
    w_hh_t: &[f32],
    g: usize,
    hd: usize,
    dgates: &[f32],
    batch: usize,
    dh: &mut [f32],
    accumulate: bool,
) {
    if batch == 1 {
        kernels::gemv_t(w_hh, g, hd, dgates, dh, accumulate);
    } else if rowdot_pays_off(g, hd) {
        kernels::gemm_nt(batch, hd, g, dgates, g, w_hh_t, g, dh, hd, accumulate);
    } else {
        kernels::gemm(
            Trans::No,
            Trans::No,
            batch,
            hd,
            g,
            1.0,
            dgates,
            g,
            w_hh,
            hd,
            if accumulate { 1.0 } else { 0.0 },
            dh,
            hd,
        );
    }
}

impl Lstm {
    /// Writes one step of the cell into an ONNX graph, from `x` `[batch, input]` and the
    /// state `h`, `c` `[batch, hidden]`; returns `(h', c')`. The cell is written out in
    /// MatMul/Split/Sigmoid/Tanh nodes with PyTorch's gate order (i, f, g, o) and engram's
    /// single bias, rather than ONNX's LSTM operator (gate order i, o, f, c; two biases).
    pub fn onnx_step(
        &self,
        g: &mut crate::onnx::Graph,
        p: &[f32],
        x: &str,
        h: &str,
        c: &str,
    ) -> (String, String) {
        use crate::onnx::Attr;
        let gates_x = g.linear(
            x,
            self.weight_ih.of(p),
            Some(self.bias.of(p)),
            4 * self.hidden_size,
        );
        let gates_h = g.linear(h, self.weight_hh.of(p), None, 4 * self.hidden_size);
        let gates = g.op("Add", &[&gates_x, &gates_h], Vec::new());
        let parts = g.op_n("Split", &[&gates], 4, vec![("axis", Attr::Int(1))]);
        let i = g.op("Sigmoid", &[&parts[0]], Vec::new());
        let f = g.op("Sigmoid", &[&parts[1]], Vec::new());
        let cell = g.op("Tanh", &[&parts[2]], Vec::new());
        let o = g.op("Sigmoid", &[&parts[3]], Vec::new());
        let kept = g.op("Mul", &[&f, c], Vec::new());
        let written = g.op("Mul", &[&i, &cell], Vec::new());
        let c_next = g.op("Add", &[&kept, &written], Vec::new());
        let squashed = g.op("Tanh", &[&c_next], Vec::new());
        let h_next = g.op("Mul", &[&o, &squashed], Vec::new());
        (h_next, c_next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded gates are the step's own: `c' = f * c + i * g` and `h' = o * tanh(c')`
    /// recomputed from them give the step's state bit for bit, over a few steps of 2 rows
    /// (hidden 13: the eight-wide body and the scalar tail).
    #[test]
    fn recorded_gates_reproduce_the_step_bit_for_bit() {
        use rand::SeedableRng;
        let (n_in, hd, batch) = (5, 13, 2);
        let mut layout = ParamLayout::new();
        let lstm = Lstm::new(&mut layout, "core", n_in, hd).unwrap();
        let p = layout.initialize(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let mut state = lstm.zero_state(batch);
        let mut scratch = LstmStepScratch::new(batch, hd);
        for t in 0..6 {
            let x: Vec<f32> = (0..batch * n_in)
                .map(|v| ((v * 7 + t * 3) % 11) as f32 * 0.3 - 1.5)
                .collect();
            let c_prev = state.c.clone();
            let gates = lstm
                .step_recording(&p, &x, &mut state, &mut scratch)
                .to_vec();
            assert_eq!(gates.len(), batch * 4 * hd);
            for r in 0..batch {
                for k in 0..hd {
                    let g = |block: usize| gates[r * 4 * hd + block * hd + k];
                    let c = g(1) * c_prev[r * hd + k] + g(0) * g(2);
                    let h = g(3) * tanh_approx(c);
                    assert_eq!(c.to_bits(), state.c[r * hd + k].to_bits(), "c, step {t}");
                    assert_eq!(h.to_bits(), state.h[r * hd + k].to_bits(), "h, step {t}");
                }
            }
        }
    }

    /// The eight-wide body and the scalar tail of the fused cell give exactly the per-unit
    /// formula (hidden 13 = one block of 8 plus a tail of 5, on 3 rows).
    #[test]
    fn cell_forward_equals_per_unit_formula_in_blocks_and_tail() {
        let (rows, hd) = (3, 13);
        let pre: Vec<f32> = (0..rows * 4 * hd)
            .map(|v| ((v * 37 % 101) as f32 - 50.0) * 0.07)
            .collect();
        let c_prev: Vec<f32> = (0..rows * hd)
            .map(|v| ((v * 11 % 23) as f32 - 11.0) * 0.2)
            .collect();
        let mut gates = pre.clone();
        let (mut c, mut tanh_c, mut h) = (
            vec![0.0; rows * hd],
            vec![0.0; rows * hd],
            vec![0.0; rows * hd],
        );
        lstm_cell_forward(&mut gates, &c_prev, &mut c, &mut tanh_c, &mut h, rows, hd);
        for r in 0..rows {
            for k in 0..hd {
                let g0 = r * 4 * hd;
                let i = sigmoid_approx(pre[g0 + k]);
                let f = sigmoid_approx(pre[g0 + hd + k]);
                let g = tanh_approx(pre[g0 + 2 * hd + k]);
                let o = sigmoid_approx(pre[g0 + 3 * hd + k]);
                let cv = f * c_prev[r * hd + k] + i * g;
                let at = r * hd + k;
                assert_eq!(
                    [
                        gates[g0 + k],
                        gates[g0 + hd + k],
                        gates[g0 + 2 * hd + k],
                        gates[g0 + 3 * hd + k]
                    ],
                    [i, f, g, o],
                    "gates row {r} unit {k}"
                );
                assert_eq!(
                    [c[at], tanh_c[at], h[at]],
                    [cv, tanh_approx(cv), o * tanh_approx(cv)],
                    "row {r} unit {k}"
                );
            }
        }
    }
}
