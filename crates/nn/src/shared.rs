//! Shared (Hogwild) parameters and optimizer statistics for A3C.
//!
//! A3C (Mnih et al. 2016) runs many workers, each with a local copy of the network; after a
//! rollout a worker applies its gradient to one global set of parameters *and* one global set
//! of optimizer statistics ("shared RMSProp"), without locks. This module provides that
//! without undefined behaviour.
//!
//! # Memory-model reasoning
//!
//! The `f32`s are stored as bits, two to an [`AtomicU64`] (element `2i` in the low half,
//! `2i + 1` in the high half), and accessed only with `Ordering::Relaxed` loads and stores of
//! whole pairs. Pairs halve the number of memory operations of an update against one
//! `AtomicU32` per element (atomics are not vectorised, so these loops are what the shared
//! optimizers cost); everything below holds per pair as it held per element.
//!
//! * **Sound.** Concurrent plain `f32` reads and writes of the same location would be a data
//!   race, which is undefined behaviour in Rust (the compiler may assume it never happens and,
//!   e.g., re-load or invent values). Atomic accesses never race in that sense, whatever the
//!   ordering, so this module contains no `unsafe` at all.
//! * **Free.** On x86-64 (and AArch64) a relaxed 64-bit atomic load or store compiles to an
//!   ordinary `mov`/`ldr`/`str`: no fence, no lock prefix. We never use read-modify-write
//!   atomics (`fetch_add`) on the parameters, which *would* cost a locked instruction each.
//! * **Sufficient.** Relaxed gives, per location, a single modification order and no torn
//!   values: every load returns some value that some thread stored whole (or the initial one),
//!   and cache coherence makes stores visible to other cores promptly in practice. It gives no
//!   ordering *between* locations, and Hogwild needs none: no thread ever infers anything about
//!   parameter `j` from having seen a value of parameter `i`. The one cross-location fact we
//!   rely on (a worker's gradient was computed from *some* recent parameters) holds without it.
//!
//! # The races that remain, and why Hogwild tolerates them
//!
//! An update is load-compute-store, not one atomic read-modify-write. Two workers updating the
//! same element (or pair) at once can both load the old value, and the later store wins: one
//! update (of the parameter, or of its RMSProp/Adam statistic) is lost or mixed with the other. A worker's
//! local copy can also mix parameters from before and after another worker's update. These are
//! exactly the races of the original A3C (TensorFlow's `ApplyRMSProp` with `use_locking=False`)
//! and of Hogwild! (Niu et al. 2011), whose analysis shows SGD still converges when such
//! collisions are rare relative to the number of updates; in practice A3C workers spend most of
//! their time stepping environments and running forward/backward, so updates of a given element
//! seldom overlap. The stress tests below check convergence under deliberate contention.
//!
//! To keep the update vectorised, elements are processed in blocks of [`BLOCK`]: a block of
//! parameters and statistics is loaded into stack arrays, updated by the same slice kernels as
//! the local optimizers in [`crate::optim`] (one formula per optimizer, shared), and stored back.
//! This widens the window in which a concurrent update of the same block can be lost to a few
//! dozen nanoseconds; it does not create any new kind of race.
//!
//! Adam's step counter is an [`AtomicU64`] incremented with `fetch_add`, so every update gets
//! a distinct step number `t` for its bias correction and none is lost.
//!
//! # Checkpoints
//!
//! [`SharedParams::snapshot`] and [`SharedOptimizer::state`] read every element atomically,
//! so each element of a snapshot is a value that really was stored; but a snapshot taken while
//! workers run is not a consistent global state (early elements may predate an update that
//! later elements include, and parameters and statistics are read at different moments).
//! Take checkpoints at quiescent points (workers paused between updates) when exact resumption
//! matters; a mid-training snapshot is still a perfectly usable set of weights.

use crate::optim::{
    adam_slices, check_lengths, rmsprop_buffer_names, rmsprop_slices, sgd_slices, AdamConfig,
    OptimizerState, RmsPropConfig, SgdConfig, StateError,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Elements updated per block in the shared optimizers: large enough to vectorise, small
/// enough to live in registers/L1 and keep the lost-update window short.
pub const BLOCK: usize = 64;

/// A flat `f32` buffer that many threads read and write concurrently (parameters or optimizer
/// statistics). Share it with `Arc<SharedParams>`.
#[derive(Debug)]
pub struct SharedParams {
    /// `ceil(len / 2)` pairs; with an odd `len` the last high half is unused.
    pairs: Box<[AtomicU64]>,
    len: usize,
}

#[inline(always)]
fn pack(low: f32, high: f32) -> u64 {
    u64::from(low.to_bits()) | (u64::from(high.to_bits()) << 32)
}

#[inline(always)]
fn unpack(pair: u64) -> [f32; 2] {
    [
        f32::from_bits(pair as u32),
        f32::from_bits((pair >> 32) as u32),
    ]
}

impl SharedParams {
    pub fn new(values: &[f32]) -> Self {
        Self {
            pairs: values
                .chunks(2)
                .map(|c| AtomicU64::new(pack(c[0], c.get(1).copied().unwrap_or(0.0))))
                .collect(),
            len: values.len(),
        }
    }

    pub fn filled(len: usize, value: f32) -> Self {
        Self {
            pairs: (0..len.div_ceil(2))
                .map(|_| AtomicU64::new(pack(value, value)))
                .collect(),
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pairs holding elements `start..end`; `start` must be even (block starts are).
    #[inline(always)]
    fn pairs_of(&self, start: usize, end: usize) -> &[AtomicU64] {
        debug_assert!(start.is_multiple_of(2) && end <= self.len);
        &self.pairs[start / 2..end.div_ceil(2)]
    }

    /// Copies the current values into `out` (a worker syncing its local network).
    pub fn read_into(&self, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.len,
            "SharedParams::read_into: buffer has {} elements, shared parameters {}",
            out.len(),
            self.len
        );
        load_block(&self.pairs, out);
    }

    /// Overwrites every value (restoring a checkpoint; do it while no worker runs).
    pub fn write_from(&self, values: &[f32]) {
        assert_eq!(
            values.len(),
            self.len,
            "SharedParams::write_from: {} values for {} shared parameters",
            values.len(),
            self.len
        );
        store_block(&self.pairs, values);
    }

    /// A copy of the current values: element-wise consistent, see the module docs.
    pub fn snapshot(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.len];
        self.read_into(&mut out);
        out
    }

    pub fn get(&self, index: usize) -> f32 {
        assert!(
            index < self.len,
            "SharedParams::get: index {index} out of {}",
            self.len
        );
        unpack(self.pairs[index / 2].load(Relaxed))[index % 2]
    }
}

impl From<&[f32]> for SharedParams {
    fn from(values: &[f32]) -> Self {
        Self::new(values)
    }
}

/// Loads `dst.len()` elements from the pairs `src` (which start at an even element).
#[inline(always)]
fn load_block(src: &[AtomicU64], dst: &mut [f32]) {
    let mut chunks = dst.chunks_exact_mut(2);
    for (d, s) in (&mut chunks).zip(src) {
        d.copy_from_slice(&unpack(s.load(Relaxed)));
    }
    if let [last] = chunks.into_remainder() {
        *last = unpack(src[src.len() - 1].load(Relaxed))[0];
    }
}

/// Stores `src` into the pairs `dst` (which start at an even element). An odd tail writes the
/// unused high half of the buffer's last pair, never a neighbouring element: blocks end on an
/// even element except at the end of the buffer.
#[inline(always)]
fn store_block(dst: &[AtomicU64], src: &[f32]) {
    let mut chunks = src.chunks_exact(2);
    for (d, s) in dst.iter().zip(&mut chunks) {
        d.store(pack(s[0], s[1]), Relaxed);
    }
    if let [last] = chunks.remainder() {
        dst[dst.len() - 1].store(pack(*last, 0.0), Relaxed);
    }
}

/// An optimizer whose statistics are shared by all workers; `apply` takes `&self` and may be
/// called from many threads at once.
pub trait SharedOptimizer: Send + Sync {
    /// Applies `grads` to `params` and the shared statistics, element-wise, lock-free.
    fn apply(&self, params: &SharedParams, grads: &[f32], lr: f32) {
        self.apply_and_read(params, grads, 1.0, lr, None);
    }
    /// [`SharedOptimizer::apply`] of `grads * grad_scale` (a clipped gradient's factor; 1
    /// applies `grads` as they are), in one pass that also copies each updated block of
    /// parameters into `read_back` (a worker's next read of the parameters). Returns whether
    /// every value copied is finite (true without `read_back`).
    ///
    /// Bit for bit the same as scaling `grads` in place, `apply`, then
    /// [`SharedParams::read_into`] on one thread. With other workers running, each block is
    /// read as this worker left it rather than after its whole pass: the read is as stale as
    /// Hogwild's always is, and three passes over the parameters are saved (the read, the
    /// finiteness check, the clip's scaling).
    fn apply_and_read(
        &self,
        params: &SharedParams,
        grads: &[f32],
        grad_scale: f32,
        lr: f32,
        read_back: Option<&mut [f32]>,
    ) -> bool;
    /// The statistics, in the same format as the local optimizer of the same kind.
    fn state(&self) -> OptimizerState;
    /// Restores statistics saved by a shared or local optimizer of the same kind and config.
    fn load_state(&self, state: &OptimizerState) -> Result<(), StateError>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Updates applied so far (by all workers).
    fn steps(&self) -> u64;
}

/// Runs `update` over the elements in blocks: loads parameters and the `K` statistics into
/// stack arrays, updates them with a local slice kernel from the block's gradient (`grads *
/// grad_scale`), stores them back, and copies the parameters into `read_back`. Returns
/// whether every value copied is finite.
fn blocked<const K: usize>(
    params: &SharedParams,
    stats: [&SharedParams; K],
    grads: &[f32],
    grad_scale: f32,
    mut read_back: Option<&mut [f32]>,
    mut update: impl FnMut(&mut [f32], &[f32], &mut [[f32; BLOCK]; K]),
) -> bool {
    let len = params.len();
    if let Some(out) = &read_back {
        assert_eq!(
            out.len(),
            len,
            "shared optimizer: read-back buffer has {} elements, shared parameters {len}",
            out.len()
        );
    }
    let mut p = [0.0f32; BLOCK];
    let mut g = [0.0f32; BLOCK];
    let mut s = [[0.0f32; BLOCK]; K];
    let mut finite = true;
    let mut start = 0;
    while start < len {
        let end = (start + BLOCK).min(len);
        let n = end - start;
        load_block(params.pairs_of(start, end), &mut p[..n]);
        for k in 0..K {
            load_block(stats[k].pairs_of(start, end), &mut s[k][..n]);
        }
        let block_grads = if grad_scale == 1.0 {
            &grads[start..end]
        } else {
            for (scaled, &x) in g[..n].iter_mut().zip(&grads[start..end]) {
                *scaled = x * grad_scale;
            }
            &g[..n]
        };
        update(&mut p[..n], block_grads, &mut s);
        store_block(params.pairs_of(start, end), &p[..n]);
        for k in 0..K {
            store_block(stats[k].pairs_of(start, end), &s[k][..n]);
        }
        if let Some(out) = read_back.as_deref_mut() {
            out[start..end].copy_from_slice(&p[..n]);
            finite &= crate::kernels::all_finite(&p[..n]);
        }
        start = end;
    }
    finite
}

fn state_of(kind: &str, step: u64, named: &[(&str, &SharedParams)]) -> OptimizerState {
    OptimizerState {
        kind: kind.into(),
        step,
        buffers: named
            .iter()
            .map(|(n, b)| (n.to_string(), b.snapshot()))
            .collect(),
    }
}

/// Shared SGD with optional momentum (the momentum buffer is shared).
#[derive(Debug)]
pub struct SharedSgd {
    pub config: SgdConfig,
    momentum_buffer: SharedParams,
    len: usize,
    step: AtomicU64,
}

impl SharedSgd {
    pub fn new(config: SgdConfig, len: usize) -> Self {
        let buf = if config.has_momentum() { len } else { 0 };
        Self {
            config,
            momentum_buffer: SharedParams::filled(buf, 0.0),
            len,
            step: AtomicU64::new(0),
        }
    }
}

impl SharedOptimizer for SharedSgd {
    fn apply_and_read(
        &self,
        params: &SharedParams,
        grads: &[f32],
        grad_scale: f32,
        lr: f32,
        read_back: Option<&mut [f32]>,
    ) -> bool {
        check_lengths("shared SGD", self.len, params.len(), grads.len());
        self.step.fetch_add(1, Relaxed);
        let c = &self.config;
        let (g, scale, out) = (grads, grad_scale, read_back);
        if c.has_momentum() {
            blocked(
                params,
                [&self.momentum_buffer],
                g,
                scale,
                out,
                |p, g, [b]| {
                    let n = p.len();
                    sgd_slices(c, lr, p, g, &mut b[..n]);
                },
            )
        } else {
            blocked(params, [], g, scale, out, |p, g, []| {
                sgd_slices(c, lr, p, g, &mut []);
            })
        }
    }

    fn state(&self) -> OptimizerState {
        let step = self.step.load(Relaxed);
        if self.config.has_momentum() {
            state_of("sgd", step, &[("momentum_buffer", &self.momentum_buffer)])
        } else {
            state_of("sgd", step, &[])
        }
    }

    fn load_state(&self, state: &OptimizerState) -> Result<(), StateError> {
        if self.config.has_momentum() {
            let b = state.expect("sgd", "momentum_buffer", self.len)?;
            self.momentum_buffer.write_from(b);
        } else {
            state.expect_kind("sgd")?;
        }
        self.step.store(state.step, Relaxed);
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn steps(&self) -> u64 {
        self.step.load(Relaxed)
    }
}

/// Shared RMSProp: the original A3C's optimizer (alpha 0.99, eps 0.1, TF formulation).
#[derive(Debug)]
pub struct SharedRmsProp {
    pub config: RmsPropConfig,
    square_avg: SharedParams,
    grad_avg: SharedParams,
    momentum_buffer: SharedParams,
    len: usize,
    step: AtomicU64,
}

impl SharedRmsProp {
    pub fn new(config: RmsPropConfig, len: usize) -> Self {
        Self {
            config,
            square_avg: SharedParams::filled(len, config.initial_square_avg),
            grad_avg: SharedParams::filled(if config.centered { len } else { 0 }, 0.0),
            momentum_buffer: SharedParams::filled(if config.has_momentum() { len } else { 0 }, 0.0),
            len,
            step: AtomicU64::new(0),
        }
    }

    fn buffer(&self, name: &str) -> &SharedParams {
        match name {
            "square_avg" => &self.square_avg,
            "grad_avg" => &self.grad_avg,
            _ => &self.momentum_buffer,
        }
    }
}

impl SharedOptimizer for SharedRmsProp {
    fn apply_and_read(
        &self,
        params: &SharedParams,
        grads: &[f32],
        grad_scale: f32,
        lr: f32,
        read_back: Option<&mut [f32]>,
    ) -> bool {
        check_lengths("shared RMSProp", self.len, params.len(), grads.len());
        self.step.fetch_add(1, Relaxed);
        let c = &self.config;
        let (g, scale, out) = (grads, grad_scale, read_back);
        let (sq, avg, mom) = (&self.square_avg, &self.grad_avg, &self.momentum_buffer);
        match (c.centered, c.has_momentum()) {
            (false, false) => blocked(params, [sq], g, scale, out, |p, g, [s]| {
                let n = p.len();
                rmsprop_slices(c, lr, p, g, &mut s[..n], &mut [], &mut []);
            }),
            (true, false) => blocked(params, [sq, avg], g, scale, out, |p, g, [s, a]| {
                let n = p.len();
                rmsprop_slices(c, lr, p, g, &mut s[..n], &mut a[..n], &mut []);
            }),
            (false, true) => blocked(params, [sq, mom], g, scale, out, |p, g, [s, b]| {
                let n = p.len();
                rmsprop_slices(c, lr, p, g, &mut s[..n], &mut [], &mut b[..n]);
            }),
            (true, true) => blocked(params, [sq, avg, mom], g, scale, out, |p, g, [s, a, b]| {
                let n = p.len();
                rmsprop_slices(c, lr, p, g, &mut s[..n], &mut a[..n], &mut b[..n]);
            }),
        }
    }

    fn state(&self) -> OptimizerState {
        let named: Vec<(&str, &SharedParams)> = rmsprop_buffer_names(&self.config)
            .into_iter()
            .map(|n| (n, self.buffer(n)))
            .collect();
        state_of("rmsprop", self.step.load(Relaxed), &named)
    }

    fn load_state(&self, state: &OptimizerState) -> Result<(), StateError> {
        // Validate everything before writing anything.
        let names = rmsprop_buffer_names(&self.config);
        let mut found = Vec::new();
        for name in &names {
            found.push(state.expect("rmsprop", name, self.len)?);
        }
        for (name, values) in names.iter().zip(found) {
            self.buffer(name).write_from(values);
        }
        self.step.store(state.step, Relaxed);
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn steps(&self) -> u64 {
        self.step.load(Relaxed)
    }
}

/// Shared Adam/AdamW (as in ikostrikov's pytorch-a3c `SharedAdam`), with one shared step
/// counter for the bias correction.
#[derive(Debug)]
pub struct SharedAdam {
    pub config: AdamConfig,
    exp_avg: SharedParams,
    exp_avg_sq: SharedParams,
    step: AtomicU64,
}

impl SharedAdam {
    pub fn new(config: AdamConfig, len: usize) -> Self {
        Self {
            config,
            exp_avg: SharedParams::filled(len, 0.0),
            exp_avg_sq: SharedParams::filled(len, 0.0),
            step: AtomicU64::new(0),
        }
    }
}

impl SharedOptimizer for SharedAdam {
    fn apply_and_read(
        &self,
        params: &SharedParams,
        grads: &[f32],
        grad_scale: f32,
        lr: f32,
        read_back: Option<&mut [f32]>,
    ) -> bool {
        let len = self.exp_avg.len();
        check_lengths("shared Adam", len, params.len(), grads.len());
        let t = self.step.fetch_add(1, Relaxed) + 1;
        let c = &self.config;
        let s = c.scalars(t, lr);
        let stats = [&self.exp_avg, &self.exp_avg_sq];
        blocked(
            params,
            stats,
            grads,
            grad_scale,
            read_back,
            |p, g, [m, v]| {
                let n = p.len();
                adam_slices(c, &s, p, g, &mut m[..n], &mut v[..n]);
            },
        )
    }

    fn state(&self) -> OptimizerState {
        state_of(
            "adam",
            self.step.load(Relaxed),
            &[("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)],
        )
    }

    fn load_state(&self, state: &OptimizerState) -> Result<(), StateError> {
        let len = self.exp_avg.len();
        let m = state.expect("adam", "exp_avg", len)?;
        let v = state.expect("adam", "exp_avg_sq", len)?;
        self.exp_avg.write_from(m);
        self.exp_avg_sq.write_from(v);
        self.step.store(state.step, Relaxed);
        Ok(())
    }

    fn len(&self) -> usize {
        self.exp_avg.len()
    }

    fn steps(&self) -> u64 {
        self.step.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{OptimizerConfig, RmsPropEps};
    use std::sync::Arc;

    fn configs() -> Vec<OptimizerConfig> {
        vec![
            OptimizerConfig::Sgd(SgdConfig::default()),
            OptimizerConfig::Sgd(SgdConfig {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.0,
            }),
            OptimizerConfig::RmsProp(RmsPropConfig::tf_like(0.99, 0.1)),
            OptimizerConfig::RmsProp(RmsPropConfig {
                centered: true,
                momentum: 0.5,
                eps_placement: RmsPropEps::OutsideSqrt,
                ..RmsPropConfig::default()
            }),
            OptimizerConfig::RmsProp(RmsPropConfig {
                centered: true,
                ..RmsPropConfig::default()
            }),
            OptimizerConfig::RmsProp(RmsPropConfig {
                momentum: 0.5,
                ..RmsPropConfig::default()
            }),
            OptimizerConfig::Adam(AdamConfig::default()),
            OptimizerConfig::Adam(AdamConfig::adamw(0.01)),
        ]
    }

    /// A length that is not a multiple of BLOCK, so the tail block is exercised.
    const N: usize = 2 * BLOCK + 37;

    fn grad_at(step: usize, i: usize) -> f32 {
        (((step * 31 + i * 17) % 23) as f32 - 11.0) * 0.01
    }

    #[test]
    fn pairs_hold_odd_lengths_and_single_elements() {
        let values = [1.5f32, -2.0, 3.25];
        let sp = SharedParams::new(&values);
        assert_eq!((sp.len(), sp.snapshot()), (3, values.to_vec()));
        assert_eq!([sp.get(0), sp.get(1), sp.get(2)], values);
        sp.write_from(&[4.0, 5.0, 6.0]);
        assert_eq!(sp.snapshot(), [4.0, 5.0, 6.0]);
        assert_eq!(SharedParams::filled(5, 0.5).snapshot(), [0.5; 5]);
        assert!(SharedParams::new(&[]).is_empty());
    }

    #[test]
    fn single_thread_shared_equals_local_bit_exactly() {
        for cfg in configs() {
            let p0: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut local = cfg.build(N);
            let shared = cfg.build_shared(N);
            let mut p = p0.clone();
            let sp = SharedParams::from(&p0[..]);
            for step in 0..5 {
                let g: Vec<f32> = (0..N).map(|i| grad_at(step, i)).collect();
                local.step(&mut p, &g, 0.01);
                shared.apply(&sp, &g, 0.01);
            }
            assert_eq!(sp.snapshot(), p, "{cfg:?}");
            assert_eq!(shared.state(), local.state(), "{cfg:?}");
        }
    }

    #[test]
    fn apply_and_read_equals_scaling_applying_and_reading() {
        for cfg in configs() {
            for grad_scale in [1.0f32, 0.37] {
                let p0: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
                let (separate, fused) = (cfg.build_shared(N), cfg.build_shared(N));
                let (sp, fp) = (SharedParams::from(&p0[..]), SharedParams::from(&p0[..]));
                let mut local = vec![0.0; N];
                for step in 0..4 {
                    let g: Vec<f32> = (0..N).map(|i| grad_at(step, i)).collect();
                    let scaled: Vec<f32> = g.iter().map(|x| x * grad_scale).collect();
                    separate.apply(&sp, &scaled, 0.01);
                    assert!(fused.apply_and_read(&fp, &g, grad_scale, 0.01, Some(&mut local)));
                    assert_eq!(local, sp.snapshot(), "{cfg:?}, scale {grad_scale}");
                    assert_eq!(fp.snapshot(), local, "{cfg:?}");
                    assert_eq!(fused.state(), separate.state(), "{cfg:?}");
                }
            }
        }
    }

    #[test]
    fn apply_and_read_reports_a_non_finite_parameter() {
        for cfg in configs() {
            let opt = cfg.build_shared(N);
            let params = SharedParams::filled(N, 0.5);
            let mut local = vec![0.0; N];
            let mut g = vec![0.01; N];
            assert!(opt.apply_and_read(&params, &g, 0.5, 0.01, Some(&mut local)));
            // In the tail block, so every block is checked.
            g[N - 1] = f32::INFINITY;
            assert!(!opt.apply_and_read(&params, &g, 1.0, 0.01, Some(&mut local)));
            assert!(!local[N - 1].is_finite(), "{cfg:?}");
            // Without a read-back nothing is checked.
            assert!(opt.apply_and_read(&params, &g, 1.0, 0.01, None));
        }
    }

    #[test]
    fn shared_state_round_trips_through_checkpoint() {
        for cfg in configs() {
            let shared = cfg.build_shared(N);
            let sp = SharedParams::filled(N, 0.5);
            for step in 0..3 {
                let g: Vec<f32> = (0..N).map(|i| grad_at(step, i)).collect();
                shared.apply(&sp, &g, 0.01);
            }
            let saved = shared.state();
            let saved_params = sp.snapshot();

            // Restore into a fresh shared optimizer and into a local one; all three must then
            // take the identical next step.
            let restored = cfg.build_shared(N);
            restored.load_state(&saved).unwrap();
            assert_eq!(restored.state(), saved, "{cfg:?}");
            assert_eq!(restored.steps(), 3);
            let mut local = cfg.build(N);
            local.load_state(&saved).unwrap();

            let g: Vec<f32> = (0..N).map(|i| grad_at(7, i)).collect();
            let sp2 = SharedParams::from(&saved_params[..]);
            let mut p3 = saved_params.clone();
            shared.apply(&sp, &g, 0.01);
            restored.apply(&sp2, &g, 0.01);
            local.step(&mut p3, &g, 0.01);
            assert_eq!(sp.snapshot(), sp2.snapshot(), "{cfg:?}");
            assert_eq!(sp.snapshot(), p3, "{cfg:?}");
        }
    }

    #[test]
    fn load_state_rejects_wrong_length_without_writing() {
        let a = SharedAdam::new(AdamConfig::default(), 4);
        let saved = SharedAdam::new(AdamConfig::default(), 3).state();
        assert!(matches!(
            a.load_state(&saved),
            Err(StateError::Length { .. })
        ));
    }

    /// Hogwild stress test: 4 threads minimise the same quadratic
    /// `f(x) = 0.5 * sum h_i (x_i - c_i)^2` through one shared parameter vector and one set of
    /// shared statistics, each reading a possibly stale local copy, with every update racing on
    /// the same few cache lines. Hogwild's guarantee is convergence despite lost updates.
    fn hogwild_converges(cfg: OptimizerConfig, lr: f32, steps_per_thread: usize, tol: f32) {
        const THREADS: usize = 4;
        let n = BLOCK + 13;
        let target: Arc<Vec<f32>> = Arc::new((0..n).map(|i| (i as f32 * 0.7).cos()).collect());
        let curvature: Arc<Vec<f32>> = Arc::new((0..n).map(|i| 0.5 + (i % 5) as f32).collect());
        let params = Arc::new(SharedParams::filled(n, 3.0));
        let opt: Arc<dyn SharedOptimizer> = Arc::from(cfg.build_shared(n));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (params, opt) = (params.clone(), opt.clone());
                let (target, curvature) = (target.clone(), curvature.clone());
                std::thread::spawn(move || {
                    let mut local = vec![0.0; n];
                    let mut grad = vec![0.0; n];
                    for _ in 0..steps_per_thread {
                        params.read_into(&mut local);
                        for i in 0..n {
                            grad[i] = curvature[i] * (local[i] - target[i]);
                        }
                        opt.apply(&params, &grad, lr);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // The step counter is exact even under contention.
        assert_eq!(opt.steps(), (THREADS * steps_per_thread) as u64);
        let result = params.snapshot();
        for i in 0..n {
            assert!(result[i].is_finite());
            assert!(
                (result[i] - target[i]).abs() < tol,
                "{cfg:?}: element {i} = {} but the optimum is {}",
                result[i],
                target[i]
            );
        }
    }

    #[test]
    fn hogwild_sgd_converges() {
        hogwild_converges(OptimizerConfig::Sgd(SgdConfig::default()), 0.05, 2000, 1e-4);
    }

    #[test]
    fn hogwild_adam_converges() {
        // Adam's steps shrink with lr; after the approach the iterates wander within ~lr.
        hogwild_converges(
            OptimizerConfig::Adam(AdamConfig::default()),
            0.01,
            3000,
            0.05,
        );
    }

    #[test]
    fn hogwild_rmsprop_converges() {
        hogwild_converges(
            OptimizerConfig::RmsProp(RmsPropConfig::tf_like(0.99, 0.1)),
            0.01,
            3000,
            0.05,
        );
    }
}
