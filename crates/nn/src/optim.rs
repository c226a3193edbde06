//! Optimizers over one flat parameter buffer, gradient clipping and learning-rate schedules.
//!
//! Every optimizer follows PyTorch's documented update equations (`torch.optim.SGD`,
//! `RMSprop`, `Adam`, `AdamW`), so hyper-parameters from papers and PyTorch code carry over.
//! The per-element update of each optimizer is one `#[inline(always)]` function
//! ([`sgd_element`], [`rmsprop_element`], [`adam_element`]); the local optimizers here and the
//! shared (Hogwild) ones in [`crate::shared`] both call the slice kernels built on them, so the
//! formulas exist exactly once.
//!
//! Optimizer state is a list of named flat buffers plus a step counter ([`OptimizerState`]),
//! named as in PyTorch's `state_dict` (`exp_avg`, `exp_avg_sq`, `square_avg`, `grad_avg`,
//! `momentum_buffer`), so a checkpoint can save and restore it exactly. Local and shared
//! optimizers of the same kind produce and accept the same state.

use thiserror::Error;

/// Defines `$name` calling the `#[inline(always)]` kernel `$imp`, compiled a second time with
/// AVX2 enabled and picked at run time when the CPU has it, so the element loops vectorise
/// 8-wide instead of SSE2's 4. Both versions do the same IEEE operations in the same order
/// (Rust never contracts `a * b + c` into an FMA), so results are bit-identical.
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident => $imp:ident ($($arg:ident : $ty:ty),* $(,)?)) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

/// A checkpointed optimizer state did not fit the optimizer it was loaded into.
#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    #[error("optimizer state is for `{found}` but this optimizer is `{expected}`: build the optimizer the checkpoint was saved with")]
    Kind { expected: String, found: String },
    #[error("optimizer state buffer `{name}` is missing: the checkpoint was saved with other hyper-parameters (e.g. momentum or centered)")]
    Missing { name: String },
    #[error("optimizer state buffer `{name}` has {found} elements but the parameters have {expected}: the checkpoint is for another model")]
    Length {
        name: String,
        expected: usize,
        found: usize,
    },
}

/// An optimizer's complete state: what a checkpoint stores to resume training exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// `"sgd"`, `"rmsprop"` or `"adam"` (AdamW is `"adam"` with decoupled weight decay).
    pub kind: String,
    /// Number of steps taken (Adam's bias correction depends on it).
    pub step: u64,
    /// Named buffers, each as long as the parameter buffer.
    pub buffers: Vec<(String, Vec<f32>)>,
}

impl OptimizerState {
    pub fn buffer(&self, name: &str) -> Option<&[f32]> {
        self.buffers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    pub(crate) fn expect_kind(&self, kind: &str) -> Result<(), StateError> {
        if self.kind != kind {
            return Err(StateError::Kind {
                expected: kind.to_string(),
                found: self.kind.clone(),
            });
        }
        Ok(())
    }

    /// Checks the kind and finds buffer `name` of `len` elements.
    pub(crate) fn expect(&self, kind: &str, name: &str, len: usize) -> Result<&[f32], StateError> {
        self.expect_kind(kind)?;
        let buf = self.buffer(name).ok_or_else(|| StateError::Missing {
            name: name.to_string(),
        })?;
        if buf.len() != len {
            return Err(StateError::Length {
                name: name.to_string(),
                expected: len,
                found: buf.len(),
            });
        }
        Ok(buf)
    }
}

/// A first-order optimizer updating a flat parameter buffer in place.
pub trait Optimizer: Send {
    /// One update of `params` with `grads` (same layout) at learning rate `lr`.
    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32);
    /// A copy of the state for a checkpoint.
    fn state(&self) -> OptimizerState;
    /// Restores a state saved by [`Optimizer::state`] (of a local or shared optimizer).
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError>;
    /// Number of parameters this optimizer was built for.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Steps taken so far.
    fn steps(&self) -> u64;
}

/// Which optimizer to build, with its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerConfig {
    Sgd(SgdConfig),
    RmsProp(RmsPropConfig),
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// A local optimizer for `len` parameters.
    pub fn build(&self, len: usize) -> Box<dyn Optimizer> {
        match *self {
            OptimizerConfig::Sgd(c) => Box::new(Sgd::new(c, len)),
            OptimizerConfig::RmsProp(c) => Box::new(RmsProp::new(c, len)),
            OptimizerConfig::Adam(c) => Box::new(Adam::new(c, len)),
        }
    }

    /// A shared (Hogwild) optimizer for `len` parameters, for A3C workers.
    pub fn build_shared(&self, len: usize) -> Box<dyn crate::shared::SharedOptimizer> {
        use crate::shared::{SharedAdam, SharedRmsProp, SharedSgd};
        match *self {
            OptimizerConfig::Sgd(c) => Box::new(SharedSgd::new(c, len)),
            OptimizerConfig::RmsProp(c) => Box::new(SharedRmsProp::new(c, len)),
            OptimizerConfig::Adam(c) => Box::new(SharedAdam::new(c, len)),
        }
    }
}

pub(crate) fn check_lengths(what: &str, len: usize, params: usize, grads: usize) {
    assert!(
        params == len && grads == len,
        "{what}: built for {len} parameters but given {params} parameters and {grads} gradients \
         (build the optimizer with the model's ParamLayout::len())"
    );
}

// ---------------------------------------------------------------------------------------------
// SGD

/// `torch.optim.SGD` without dampening:
/// `g += weight_decay * p; b = momentum * b + g; g = nesterov ? g + momentum * b : b;
/// p -= lr * g`. (PyTorch sets `b = g` on the first step; with a zero-initialised buffer and
/// no dampening that is the same thing.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    pub momentum: f32,
    pub nesterov: bool,
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    pub(crate) fn has_momentum(&self) -> bool {
        self.momentum != 0.0
    }
}

/// One element of SGD. `momentum_buffer` is ignored when `momentum == 0`.
#[inline(always)]
pub fn sgd_element(c: &SgdConfig, lr: f32, p: &mut f32, g: f32, momentum_buffer: &mut f32) {
    let g = g + c.weight_decay * *p;
    let d = if c.momentum != 0.0 {
        let b = c.momentum * *momentum_buffer + g;
        *momentum_buffer = b;
        if c.nesterov {
            g + c.momentum * b
        } else {
            b
        }
    } else {
        g
    };
    *p -= lr * d;
}

avx2_dispatch! {
    /// SGD over slices; `momentum_buffer` may be empty when the config has no momentum.
    pub(crate) fn sgd_slices => sgd_kernel(c: &SgdConfig, lr: f32, p: &mut [f32], g: &[f32], buf: &mut [f32])
}

#[inline(always)]
fn sgd_kernel(c: &SgdConfig, lr: f32, p: &mut [f32], g: &[f32], buf: &mut [f32]) {
    if c.has_momentum() {
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
            sgd_element(c, lr, p, g, b);
        }
    } else {
        let mut unused = 0.0;
        for (p, &g) in p.iter_mut().zip(g) {
            sgd_element(c, lr, p, g, &mut unused);
        }
    }
}

/// Stochastic gradient descent with optional (Nesterov) momentum.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub config: SgdConfig,
    momentum_buffer: Vec<f32>,
    len: usize,
    step: u64,
}

impl Sgd {
    pub fn new(config: SgdConfig, len: usize) -> Self {
        let buf_len = if config.has_momentum() { len } else { 0 };
        Self {
            config,
            momentum_buffer: vec![0.0; buf_len],
            len,
            step: 0,
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32) {
        check_lengths("SGD", self.len, params.len(), grads.len());
        sgd_slices(&self.config, lr, params, grads, &mut self.momentum_buffer);
        self.step += 1;
    }

    fn state(&self) -> OptimizerState {
        let mut buffers = Vec::new();
        if self.config.has_momentum() {
            buffers.push(("momentum_buffer".to_string(), self.momentum_buffer.clone()));
        }
        OptimizerState {
            kind: "sgd".into(),
            step: self.step,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        if self.config.has_momentum() {
            let b = state.expect("sgd", "momentum_buffer", self.len)?;
            self.momentum_buffer.copy_from_slice(b);
        } else {
            state.expect_kind("sgd")?;
        }
        self.step = state.step;
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn steps(&self) -> u64 {
        self.step
    }
}

// ---------------------------------------------------------------------------------------------
// RMSProp

/// Where RMSProp's `eps` goes: the one difference between the PyTorch and TensorFlow
/// formulations that changes results noticeably for large `eps` (the original A3C used 0.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RmsPropEps {
    /// `g / (sqrt(v) + eps)`: `torch.optim.RMSprop`.
    OutsideSqrt,
    /// `g / sqrt(v + eps)`: TensorFlow's `RMSPropOptimizer`, SB3's `RMSpropTFLike`.
    InsideSqrt,
}

/// RMSProp as `torch.optim.RMSprop`:
/// `v = alpha * v + (1 - alpha) * g^2`; if centered, `gavg = alpha * gavg + (1 - alpha) * g`
/// and `v~ = v - gavg^2` (clamped at 0 against rounding), else `v~ = v`;
/// `d = g / (sqrt(v~) + eps)` (or `g / sqrt(v~ + eps)`, see [`RmsPropEps`]);
/// with momentum `b = momentum * b + d; p -= lr * b`, else `p -= lr * d`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    pub alpha: f32,
    pub eps: f32,
    pub centered: bool,
    pub momentum: f32,
    pub weight_decay: f32,
    pub eps_placement: RmsPropEps,
    /// Initial value of `square_avg`: 0 in PyTorch, 1 in TensorFlow / SB3's `RMSpropTFLike`
    /// (which keeps the first steps from being huge).
    pub initial_square_avg: f32,
}

impl Default for RmsPropConfig {
    /// PyTorch's defaults: alpha 0.99, eps 1e-8, eps outside the square root.
    fn default() -> Self {
        Self {
            alpha: 0.99,
            eps: 1e-8,
            centered: false,
            momentum: 0.0,
            weight_decay: 0.0,
            eps_placement: RmsPropEps::OutsideSqrt,
            initial_square_avg: 0.0,
        }
    }
}

impl RmsPropConfig {
    /// `torch.optim.RMSprop(alpha, eps)`.
    pub fn pytorch(alpha: f32, eps: f32) -> Self {
        Self {
            alpha,
            eps,
            ..Self::default()
        }
    }

    /// TensorFlow / SB3 `RMSpropTFLike(alpha, eps)`: eps inside the square root and
    /// `square_avg` starting at 1 (SB3's A2C uses alpha 0.99, eps 1e-5).
    pub fn tf_like(alpha: f32, eps: f32) -> Self {
        Self {
            alpha,
            eps,
            eps_placement: RmsPropEps::InsideSqrt,
            initial_square_avg: 1.0,
            ..Self::default()
        }
    }

    pub(crate) fn has_momentum(&self) -> bool {
        self.momentum != 0.0
    }
}

/// One element of RMSProp. `grad_avg` is ignored unless centered, `momentum_buffer` unless
/// `momentum != 0`.
#[inline(always)]
pub fn rmsprop_element(
    c: &RmsPropConfig,
    lr: f32,
    p: &mut f32,
    g: f32,
    square_avg: &mut f32,
    grad_avg: &mut f32,
    momentum_buffer: &mut f32,
) {
    let g = g + c.weight_decay * *p;
    let v = c.alpha * *square_avg + (1.0 - c.alpha) * g * g;
    *square_avg = v;
    let v = if c.centered {
        let a = c.alpha * *grad_avg + (1.0 - c.alpha) * g;
        *grad_avg = a;
        (v - a * a).max(0.0)
    } else {
        v
    };
    let denom = match c.eps_placement {
        RmsPropEps::OutsideSqrt => v.sqrt() + c.eps,
        RmsPropEps::InsideSqrt => (v + c.eps).sqrt(),
    };
    let d = g / denom;
    if c.momentum != 0.0 {
        let b = c.momentum * *momentum_buffer + d;
        *momentum_buffer = b;
        *p -= lr * b;
    } else {
        *p -= lr * d;
    }
}

avx2_dispatch! {
    /// RMSProp over slices; `grad_avg` / `momentum_buffer` may be empty when unused.
    pub(crate) fn rmsprop_slices => rmsprop_kernel(
        c: &RmsPropConfig,
        lr: f32,
        p: &mut [f32],
        g: &[f32],
        sq: &mut [f32],
        gavg: &mut [f32],
        mom: &mut [f32],
    )
}

#[inline(always)]
fn rmsprop_kernel(
    c: &RmsPropConfig,
    lr: f32,
    p: &mut [f32],
    g: &[f32],
    sq: &mut [f32],
    gavg: &mut [f32],
    mom: &mut [f32],
) {
    let mut unused_a = 0.0;
    let mut unused_b = 0.0;
    match (c.centered, c.has_momentum()) {
        (false, false) => {
            for ((p, &g), s) in p.iter_mut().zip(g).zip(sq.iter_mut()) {
                rmsprop_element(c, lr, p, g, s, &mut unused_a, &mut unused_b);
            }
        }
        (true, false) => {
            for (((p, &g), s), a) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(gavg) {
                rmsprop_element(c, lr, p, g, s, a, &mut unused_b);
            }
        }
        (false, true) => {
            for (((p, &g), s), b) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(mom) {
                rmsprop_element(c, lr, p, g, s, &mut unused_a, b);
            }
        }
        (true, true) => {
            for ((((p, &g), s), a), b) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(gavg).zip(mom)
            {
                rmsprop_element(c, lr, p, g, s, a, b);
            }
        }
    }
}

/// The state buffers RMSProp keeps for `c`, in checkpoint order.
pub(crate) fn rmsprop_buffer_names(c: &RmsPropConfig) -> Vec<&'static str> {
    let mut names = vec!["square_avg"];
    if c.centered {
        names.push("grad_avg");
    }
    if c.has_momentum() {
        names.push("momentum_buffer");
    }
    names
}

/// RMSProp (Tieleman & Hinton 2012) in PyTorch's or TensorFlow's formulation.
#[derive(Clone, Debug)]
pub struct RmsProp {
    pub config: RmsPropConfig,
    square_avg: Vec<f32>,
    grad_avg: Vec<f32>,
    momentum_buffer: Vec<f32>,
    len: usize,
    step: u64,
}

impl RmsProp {
    pub fn new(config: RmsPropConfig, len: usize) -> Self {
        Self {
            config,
            square_avg: vec![config.initial_square_avg; len],
            grad_avg: vec![0.0; if config.centered { len } else { 0 }],
            momentum_buffer: vec![0.0; if config.has_momentum() { len } else { 0 }],
            len,
            step: 0,
        }
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32) {
        check_lengths("RMSProp", self.len, params.len(), grads.len());
        rmsprop_slices(
            &self.config,
            lr,
            params,
            grads,
            &mut self.square_avg,
            &mut self.grad_avg,
            &mut self.momentum_buffer,
        );
        self.step += 1;
    }

    fn state(&self) -> OptimizerState {
        let buffers = rmsprop_buffer_names(&self.config)
            .into_iter()
            .map(|name| {
                let b = match name {
                    "square_avg" => &self.square_avg,
                    "grad_avg" => &self.grad_avg,
                    _ => &self.momentum_buffer,
                };
                (name.to_string(), b.clone())
            })
            .collect();
        OptimizerState {
            kind: "rmsprop".into(),
            step: self.step,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        for name in rmsprop_buffer_names(&self.config) {
            let src = state.expect("rmsprop", name, self.len)?;
            let dst = match name {
                "square_avg" => &mut self.square_avg,
                "grad_avg" => &mut self.grad_avg,
                _ => &mut self.momentum_buffer,
            };
            dst.copy_from_slice(src);
        }
        self.step = state.step;
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn steps(&self) -> u64 {
        self.step
    }
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW

/// Adam (Kingma & Ba 2015) as `torch.optim.Adam` / `AdamW`, with bias correction:
/// `g += wd * p` (Adam's L2) or `p *= 1 - lr * wd` (AdamW's decoupled decay);
/// `m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g^2;`
/// `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// `true`: AdamW (Loshchilov & Hutter 2019), decay applied to the weights directly.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    /// PyTorch's Adam defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW(weight_decay=...)` with its other defaults (PyTorch's default
    /// weight decay is 0.01).
    pub fn adamw(weight_decay: f32) -> Self {
        Self {
            weight_decay,
            decoupled_weight_decay: true,
            ..Self::default()
        }
    }

    /// The per-step scalars of step number `t` (1-based), computed once per step.
    pub fn scalars(&self, t: u64, lr: f32) -> AdamScalars {
        let t = t.max(1) as f64;
        let bias_correction1 = 1.0 - (self.beta1 as f64).powf(t);
        let bias_correction2 = 1.0 - (self.beta2 as f64).powf(t);
        let (l2, decay) = if self.decoupled_weight_decay {
            (0.0, 1.0 - lr * self.weight_decay)
        } else {
            (self.weight_decay, 1.0)
        };
        AdamScalars {
            step_size: (lr as f64 / bias_correction1) as f32,
            inv_sqrt_bias_correction2: (1.0 / bias_correction2.sqrt()) as f32,
            l2,
            decay,
        }
    }
}

/// What one Adam step needs besides the element: bias corrections and weight decay folded
/// into constants so the element update is branch-free and vectorises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// `lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `1 / sqrt(1 - beta2^t)`.
    pub inv_sqrt_bias_correction2: f32,
    /// Coupled (L2) weight decay added to the gradient; 0 for AdamW.
    pub l2: f32,
    /// Decoupled decay factor `1 - lr * wd` for AdamW; 1 for Adam.
    pub decay: f32,
}

/// One element of Adam/AdamW.
#[inline(always)]
pub fn adam_element(
    c: &AdamConfig,
    s: &AdamScalars,
    p: &mut f32,
    g: f32,
    exp_avg: &mut f32,
    exp_avg_sq: &mut f32,
) {
    let g = g + s.l2 * *p;
    let m = c.beta1 * *exp_avg + (1.0 - c.beta1) * g;
    let v = c.beta2 * *exp_avg_sq + (1.0 - c.beta2) * g * g;
    *exp_avg = m;
    *exp_avg_sq = v;
    let denom = v.sqrt() * s.inv_sqrt_bias_correction2 + c.eps;
    *p = *p * s.decay - s.step_size * m / denom;
}

avx2_dispatch! {
    /// Adam over slices.
    pub(crate) fn adam_slices => adam_kernel(
        c: &AdamConfig,
        s: &AdamScalars,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    )
}

#[inline(always)]
fn adam_kernel(
    c: &AdamConfig,
    s: &AdamScalars,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        adam_element(c, s, p, g, m, v);
    }
}

/// Adam or AdamW with bias correction.
#[derive(Clone, Debug)]
pub struct Adam {
    pub config: AdamConfig,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    step: u64,
}

impl Adam {
    pub fn new(config: AdamConfig, len: usize) -> Self {
        Self {
            config,
            exp_avg: vec![0.0; len],
            exp_avg_sq: vec![0.0; len],
            step: 0,
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32) {
        check_lengths("Adam", self.exp_avg.len(), params.len(), grads.len());
        self.step += 1;
        let s = self.config.scalars(self.step, lr);
        adam_slices(
            &self.config,
            &s,
            params,
            grads,
            &mut self.exp_avg,
            &mut self.exp_avg_sq,
        );
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            kind: "adam".into(),
            step: self.step,
            buffers: vec![
                ("exp_avg".into(), self.exp_avg.clone()),
                ("exp_avg_sq".into(), self.exp_avg_sq.clone()),
            ],
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        let len = self.exp_avg.len();
        let m = state.expect("adam", "exp_avg", len)?;
        let v = state.expect("adam", "exp_avg_sq", len)?;
        self.exp_avg.copy_from_slice(m);
        self.exp_avg_sq.copy_from_slice(v);
        self.step = state.step;
        Ok(())
    }

    fn len(&self) -> usize {
        self.exp_avg.len()
    }

    fn steps(&self) -> u64 {
        self.step
    }
}

// ---------------------------------------------------------------------------------------------
// Clipping

/// The L2 norm of the whole gradient buffer (accumulated in f64: a long buffer of f32 squares
/// loses digits otherwise).
pub fn global_norm(grads: &[f32]) -> f32 {
    // Eight partial sums keep the loop vectorisable.
    let mut acc = [0.0f64; 8];
    let chunks = grads.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += (c[k] as f64) * (c[k] as f64);
        }
    }
    let mut sum: f64 = acc.iter().sum();
    for &g in rest {
        sum += (g as f64) * (g as f64);
    }
    sum.sqrt() as f32
}

/// Scales `grads` so their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` (factor `max_norm / (norm + 1e-6)` when below 1).
/// Returns the norm before clipping (log it: it is the first thing to look at when training
/// diverges). A non-finite norm leaves the gradients untouched and is returned as is.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = global_norm(grads);
    scale_grads(grads, clip_scale(norm, max_norm));
    norm
}

/// Multiplies `grads` by `factor` ([`clip_scale`]'s), leaving them untouched when it is 1.
pub fn scale_grads(grads: &mut [f32], factor: f32) {
    if factor != 1.0 {
        for g in grads.iter_mut() {
            *g *= factor;
        }
    }
}

/// The factor [`clip_grad_norm`] multiplies gradients of global norm `norm` by (1 when it
/// leaves them alone), for an optimizer pass that scales as it applies
/// ([`crate::shared::SharedOptimizer::apply_and_read`]).
pub fn clip_scale(norm: f32, max_norm: f32) -> f32 {
    let coef = max_norm / (norm + 1e-6);
    if norm.is_finite() && coef < 1.0 {
        coef
    } else {
        1.0
    }
}

// ---------------------------------------------------------------------------------------------
// Schedules

/// A learning-rate (or any coefficient) schedule over training progress.
///
/// `progress` is the fraction of training done, from 0 at the start to 1 at the end (SB3's
/// `progress_remaining` is `1 - progress`); values outside [0, 1] are clamped. In `f64`, as
/// the configuration's numbers are: the value is rounded to `f32` once, where it is used.
/// Add a variant and a match arm to add a schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant(f64),
    /// Linear from `start` at progress 0 to `end` at progress 1 (A3C, A2C and PPO anneal the
    /// learning rate linearly to 0), computed as `start * (1 - p) + end * p`, which is exactly
    /// `start * (1 - p)` when `end` is 0.
    Linear {
        start: f64,
        end: f64,
    },
    /// Linear from `start` to `end` over the first `fraction` of training, then `end` (SB3's
    /// `get_linear_fn`, DQN's exploration rate).
    LinearThenConstant {
        start: f64,
        end: f64,
        fraction: f64,
    },
}

impl Schedule {
    pub fn value(&self, progress: f64) -> f64 {
        let progress = if progress.is_nan() {
            0.0
        } else {
            progress.clamp(0.0, 1.0)
        };
        match *self {
            Schedule::Constant(v) => v,
            Schedule::Linear { start, end } => start * (1.0 - progress) + end * progress,
            Schedule::LinearThenConstant {
                start,
                end,
                fraction,
            } => {
                if progress >= fraction {
                    end
                } else {
                    start + progress * (end - start) / fraction
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(
                ((x as f64) - y).abs() <= tol * y.abs().max(1.0),
                "element {i}: {x} vs expected {y}"
            );
        }
    }

    const P0: [f32; 3] = [1.0, -2.0, 0.5];
    /// Gradients of three steps, chosen to change sign and scale.
    const GRADS: [[f32; 3]; 3] = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.3, 0.2, 0.05]];

    /// Runs the three steps with `opt`, returning the parameter trajectory.
    fn run(opt: &mut dyn Optimizer, lr: f32) -> Vec<Vec<f32>> {
        let mut p = P0.to_vec();
        let mut out = Vec::new();
        for g in GRADS {
            opt.step(&mut p, &g, lr);
            out.push(p.clone());
        }
        out
    }

    /// Reference trajectories written straight from the PyTorch documentation's pseudo-code
    /// in f64, independent of the element functions under test.
    fn reference(kind: &str, lr: f64) -> Vec<Vec<f64>> {
        let mut p: Vec<f64> = P0.iter().map(|&x| x as f64).collect();
        let n = p.len();
        let (mut a, mut b, mut c) = (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
        let mut out = Vec::new();
        for (t0, g) in GRADS.iter().enumerate() {
            let t = (t0 + 1) as f64;
            for i in 0..n {
                let g = g[i] as f64;
                match kind {
                    // SGD momentum 0.9, nesterov, wd 0.01
                    "sgd_nesterov" => {
                        let g = g + 0.01 * p[i];
                        a[i] = if t0 == 0 { g } else { 0.9 * a[i] + g };
                        p[i] -= lr * (g + 0.9 * a[i]);
                    }
                    // RMSprop alpha 0.9, eps 1e-3, centered, momentum 0.5
                    "rmsprop_centered_momentum" => {
                        a[i] = 0.9 * a[i] + 0.1 * g * g;
                        b[i] = 0.9 * b[i] + 0.1 * g;
                        let v = a[i] - b[i] * b[i];
                        c[i] = 0.5 * c[i] + g / (v.sqrt() + 1e-3);
                        p[i] -= lr * c[i];
                    }
                    // TF-like: square_avg starts at 1, eps inside, no momentum
                    "rmsprop_tf" => {
                        if t0 == 0 {
                            a[i] = 1.0;
                        }
                        a[i] = 0.99 * a[i] + 0.01 * g * g;
                        p[i] -= lr * g / (a[i] + 1e-5).sqrt();
                    }
                    // PyTorch RMSprop defaults alpha .99 eps 1e-8 (eps outside)
                    "rmsprop" => {
                        a[i] = 0.99 * a[i] + 0.01 * g * g;
                        p[i] -= lr * g / (a[i].sqrt() + 1e-8);
                    }
                    // Adam with L2 weight decay 0.1
                    "adam_l2" => {
                        let g = g + 0.1 * p[i];
                        a[i] = 0.9 * a[i] + 0.1 * g;
                        b[i] = 0.999 * b[i] + 0.001 * g * g;
                        let step_size = lr / (1.0 - 0.9f64.powf(t));
                        let denom = b[i].sqrt() / (1.0 - 0.999f64.powf(t)).sqrt() + 1e-8;
                        p[i] -= step_size * a[i] / denom;
                    }
                    // AdamW weight decay 0.1
                    "adamw" => {
                        p[i] *= 1.0 - lr * 0.1;
                        a[i] = 0.9 * a[i] + 0.1 * g;
                        b[i] = 0.999 * b[i] + 0.001 * g * g;
                        let step_size = lr / (1.0 - 0.9f64.powf(t));
                        let denom = b[i].sqrt() / (1.0 - 0.999f64.powf(t)).sqrt() + 1e-8;
                        p[i] -= step_size * a[i] / denom;
                    }
                    _ => unreachable!(),
                }
            }
            out.push(p.clone());
        }
        out
    }

    fn check(opt: &mut dyn Optimizer, kind: &str, lr: f32) {
        let got = run(opt, lr);
        let want = reference(kind, lr as f64);
        for (g, w) in got.iter().zip(&want) {
            close(g, w, 2e-6);
        }
    }

    #[test]
    fn sgd_matches_pytorch_equations() {
        let cfg = SgdConfig {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
        };
        check(&mut Sgd::new(cfg, 3), "sgd_nesterov", 0.1);
    }

    #[test]
    fn sgd_plain_by_hand() {
        // p - lr * g, no state: 1 - 0.5 * 0.1 = 0.95.
        let mut opt = Sgd::new(SgdConfig::default(), 3);
        let mut p = P0.to_vec();
        opt.step(&mut p, &GRADS[0], 0.5);
        assert_eq!(p, vec![0.95, -1.9, 0.35]);
        assert!(opt.state().buffers.is_empty());
    }

    #[test]
    fn rmsprop_matches_pytorch_equations() {
        check(
            &mut RmsProp::new(RmsPropConfig::default(), 3),
            "rmsprop",
            0.01,
        );
        let cfg = RmsPropConfig {
            alpha: 0.9,
            eps: 1e-3,
            centered: true,
            momentum: 0.5,
            ..RmsPropConfig::default()
        };
        check(&mut RmsProp::new(cfg, 3), "rmsprop_centered_momentum", 0.01);
        check(
            &mut RmsProp::new(RmsPropConfig::tf_like(0.99, 1e-5), 3),
            "rmsprop_tf",
            0.01,
        );
    }

    #[test]
    fn rmsprop_first_step_by_hand() {
        // v = 0.01 * 0.1^2 = 1e-4; sqrt = 0.01; p = 1 - 0.01 * 0.1 / (0.01 + 1e-8) ~= 0.9
        let mut opt = RmsProp::new(RmsPropConfig::default(), 1);
        let mut p = [1.0];
        opt.step(&mut p, &[0.1], 0.01);
        assert!((p[0] - 0.9).abs() < 1e-6, "{}", p[0]);
    }

    #[test]
    fn adam_matches_pytorch_equations() {
        let l2 = AdamConfig {
            weight_decay: 0.1,
            ..AdamConfig::default()
        };
        check(&mut Adam::new(l2, 3), "adam_l2", 0.01);
        check(&mut Adam::new(AdamConfig::adamw(0.1), 3), "adamw", 0.01);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // After bias correction the first step is m/sqrt(v) = g/|g|: p moves by lr.
        let mut opt = Adam::new(AdamConfig::default(), 3);
        let mut p = P0.to_vec();
        opt.step(&mut p, &GRADS[0], 0.1);
        close(&p, &[0.9, -1.9, 0.4], 1e-6);
    }

    #[test]
    fn state_round_trips_and_resumes_exactly() {
        let configs = [
            OptimizerConfig::Adam(AdamConfig::default()),
            OptimizerConfig::RmsProp(RmsPropConfig {
                centered: true,
                momentum: 0.9,
                ..RmsPropConfig::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                momentum: 0.9,
                ..SgdConfig::default()
            }),
        ];
        for cfg in configs {
            let mut a = cfg.build(3);
            let mut p = P0.to_vec();
            a.step(&mut p, &GRADS[0], 0.01);
            let saved = a.state();
            let p_saved = p.clone();
            a.step(&mut p, &GRADS[1], 0.01);
            let mut b = cfg.build(3);
            b.load_state(&saved).unwrap();
            assert_eq!(b.steps(), 1);
            let mut q = p_saved;
            b.step(&mut q, &GRADS[1], 0.01);
            assert_eq!(p, q, "{cfg:?} did not resume bit-exactly");
            assert_eq!(a.state(), b.state());
        }
    }

    #[test]
    fn load_state_rejects_mismatches() {
        let adam = Adam::new(AdamConfig::default(), 3).state();
        let mut rms = RmsProp::new(RmsPropConfig::default(), 3);
        assert!(matches!(
            rms.load_state(&adam),
            Err(StateError::Kind { .. })
        ));
        let mut big = Adam::new(AdamConfig::default(), 4);
        let err = big.load_state(&adam).unwrap_err();
        assert!(matches!(
            err,
            StateError::Length {
                expected: 4,
                found: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("exp_avg"));
        let plain = RmsProp::new(RmsPropConfig::default(), 3).state();
        let mut centered = RmsProp::new(
            RmsPropConfig {
                centered: true,
                ..RmsPropConfig::default()
            },
            3,
        );
        assert!(matches!(
            centered.load_state(&plain),
            Err(StateError::Missing { .. })
        ));
    }

    #[test]
    #[should_panic(expected = "built for 3 parameters")]
    fn wrong_length_is_a_clear_error() {
        let mut opt = Adam::new(AdamConfig::default(), 3);
        opt.step(&mut [0.0; 2], &[0.0; 2], 0.1);
    }

    #[test]
    fn clipping_scales_to_max_norm_and_returns_pre_clip_norm() {
        let mut g = vec![3.0, 4.0];
        let norm = clip_grad_norm(&mut g, 1.0);
        assert_eq!(norm, 5.0);
        assert!((global_norm(&g) - 1.0).abs() < 1e-5);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        // Below the threshold: untouched.
        let mut g = vec![0.3, 0.4];
        assert!((clip_grad_norm(&mut g, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(g, vec![0.3, 0.4]);
        // Long buffers, exercising the chunked sum and the remainder.
        let mut g = vec![1.0f32; 1003];
        let norm = clip_grad_norm(&mut g, 0.5);
        assert!((norm - 1003f32.sqrt()).abs() < 1e-3);
        assert!((global_norm(&g) - 0.5).abs() < 1e-5);
    }

    #[test]
    fn schedules() {
        let lin = Schedule::Linear {
            start: 7e-4,
            end: 0.0,
        };
        assert_eq!(lin.value(0.0), 7e-4);
        assert!((lin.value(0.25) - 5.25e-4).abs() < 1e-12);
        assert_eq!(lin.value(0.25), 7e-4 * 0.75, "exactly start * (1 - p)");
        assert_eq!(lin.value(1.0), 0.0);
        assert_eq!(lin.value(2.0), 0.0);
        assert_eq!(lin.value(-1.0), 7e-4);
        let up = Schedule::Linear {
            start: 1.0,
            end: 3.0,
        };
        assert_eq!(up.value(0.5), 2.0);
        assert_eq!(Schedule::Constant(0.1).value(0.7), 0.1);
        let eps = Schedule::LinearThenConstant {
            start: 1.0,
            end: 0.05,
            fraction: 0.1,
        };
        assert_eq!(eps.value(0.0), 1.0);
        assert!((eps.value(0.05) - 0.525).abs() < 1e-12);
        assert_eq!(eps.value(0.1), 0.05);
        assert_eq!(eps.value(0.7), 0.05);
    }

    #[test]
    fn dispatched_and_portable_kernels_agree_bit_exactly() {
        let n = 1003;
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 101) as f32 * 0.01 - 0.5)
            .collect();
        let p0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.1).sin()).collect();
        let run = |dispatched: bool| {
            let mut p = p0.clone();
            let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
            let (mut sq, mut avg, mut mom) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let mut buf = vec![0.0; n];
            for step in 1..4 {
                let adam = AdamConfig::adamw(0.01);
                let s = adam.scalars(step, 1e-3);
                let rms = RmsPropConfig {
                    centered: true,
                    momentum: 0.9,
                    ..RmsPropConfig::default()
                };
                let sgd = SgdConfig {
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 1e-4,
                };
                if dispatched {
                    adam_slices(&adam, &s, &mut p, &g, &mut m, &mut v);
                    rmsprop_slices(&rms, 1e-3, &mut p, &g, &mut sq, &mut avg, &mut mom);
                    sgd_slices(&sgd, 1e-3, &mut p, &g, &mut buf);
                } else {
                    adam_kernel(&adam, &s, &mut p, &g, &mut m, &mut v);
                    rmsprop_kernel(&rms, 1e-3, &mut p, &g, &mut sq, &mut avg, &mut mom);
                    sgd_kernel(&sgd, 1e-3, &mut p, &g, &mut buf);
                }
            }
            let all = [p, m, v, sq, avg, mom, buf];
            assert!(all.iter().flatten().all(|x| x.is_finite()));
            all
        };
        assert_eq!(run(true), run(false));
    }
}
