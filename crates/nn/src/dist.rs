//! Action distributions with gradients, batch-major over flat slices.
//!
//! Every function takes its outputs as `&mut` slices and allocates nothing, so acting and
//! updating can call them every step. A batch of `B` rows is laid out row after row: logits
//! `[B x n]`, means `[B x dim]`, and so on; `B` is inferred from the slice lengths, which are
//! checked with messages naming the mismatch.
//!
//! Backward passes take the upstream derivatives of a scalar loss with respect to each row's
//! log-probability (and entropy, or action) and *overwrite* the derivative with respect to the
//! distribution's inputs (logits, mean, log-std). Losses built from these quantities are in
//! [`crate::loss`].

use rand::Rng;

const LN_2PI: f32 = 1.837_877_1; // ln(2 pi)
const LN_2: f32 = std::f32::consts::LN_2;

/// A standard normal draw (Box-Muller in f64; one draw per call, so a seed gives the same
/// sequence whatever the batch size).
#[inline]
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    standard_normal_f64(rng) as f32
}

/// [`standard_normal`] in f64 (initialisers do their linear algebra in f64).
#[inline]
pub fn standard_normal_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // u1 in (0, 1] keeps ln finite.
    let u1 = 1.0 - rng.gen::<f64>();
    let u2 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Numerically stable `ln(1 + e^x)`.
#[inline]
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn batch_of(len: usize, width: usize, what: &str) -> usize {
    assert!(
        len.checked_rem(width) == Some(0),
        "{what}: length {len} is not a multiple of the row width {width}"
    );
    len / width
}

fn expect_len(found: usize, expected: usize, what: &str) {
    assert_eq!(
        found, expected,
        "{what}: expected {expected} elements (one per batch row or element), found {found}"
    );
}

// ---------------------------------------------------------------------------------------------
// Categorical rows (shared by Categorical and MultiCategorical)

/// Log-softmax of one row. Masked-out entries (`mask[j] == false`) get log-probability
/// `-inf`, i.e. probability exactly zero.
#[inline]
fn log_softmax_row(logits: &[f32], mask: Option<&[bool]>, out: &mut [f32]) {
    let allowed = |j: usize| match mask {
        None => true,
        Some(m) => m[j],
    };
    let mut max = f32::NEG_INFINITY;
    for (j, &z) in logits.iter().enumerate() {
        if allowed(j) && z > max {
            max = z;
        }
    }
    if max == f32::NEG_INFINITY {
        assert!(
            mask.is_none_or(|m| m.iter().any(|&a| a)),
            "categorical distribution with every action masked out: the action mask must \
             allow at least one action"
        );
        // Every allowed logit is NaN or -inf: a network that diverged. NaN log-probabilities
        // (not a panic) let the caller's NaN guard stop training with its message; sampling
        // still returns an allowed action.
        for (j, o) in out.iter_mut().enumerate() {
            *o = if allowed(j) {
                f32::NAN
            } else {
                f32::NEG_INFINITY
            };
        }
        return;
    }
    let mut sum = 0.0f32;
    for (j, &z) in logits.iter().enumerate() {
        if allowed(j) {
            sum += (z - max).exp();
        }
    }
    let lse = max + sum.ln();
    for (j, (o, &z)) in out.iter_mut().zip(logits).enumerate() {
        *o = if allowed(j) {
            z - lse
        } else {
            f32::NEG_INFINITY
        };
    }
}

/// `-sum p log p` over the row; zero-probability entries contribute nothing.
#[inline]
fn entropy_row(log_probs: &[f32]) -> f32 {
    let mut h = 0.0;
    for &lp in log_probs {
        if lp > f32::NEG_INFINITY {
            h -= lp.exp() * lp;
        }
    }
    h
}

#[inline]
fn sample_row<R: Rng + ?Sized>(log_probs: &[f32], rng: &mut R) -> usize {
    let u = rng.gen::<f32>();
    let mut acc = 0.0f32;
    let mut last_allowed = 0;
    for (j, &lp) in log_probs.iter().enumerate() {
        // NaN counts as allowed: only a diverged network's rows hold it (see log_softmax_row).
        if lp != f32::NEG_INFINITY {
            acc += lp.exp();
            last_allowed = j;
            if u < acc {
                return j;
            }
        }
    }
    // Rounding left the cumulative sum just under u: the last possible action.
    last_allowed
}

#[inline]
fn mode_row(log_probs: &[f32]) -> usize {
    let mut best = log_probs
        .iter()
        .position(|&lp| lp != f32::NEG_INFINITY)
        .unwrap_or(0);
    for (j, &lp) in log_probs.iter().enumerate() {
        if lp > log_probs[best] {
            best = j;
        }
    }
    best
}

/// d/d(logits) of `d_log_prob * log p(action) + d_entropy * H`:
/// `d_log_prob * (1[j = a] - p_j) - d_entropy * p_j * (log p_j + H)`; masked entries get 0.
#[inline]
fn backward_row(
    log_probs: &[f32],
    action: usize,
    d_log_prob: f32,
    d_entropy: f32,
    out: &mut [f32],
) {
    let h = entropy_row(log_probs);
    for (j, (o, &lp)) in out.iter_mut().zip(log_probs).enumerate() {
        *o = if lp > f32::NEG_INFINITY {
            let p = lp.exp();
            let onehot = if j == action { 1.0 } else { 0.0 };
            d_log_prob * (onehot - p) - d_entropy * p * (lp + h)
        } else {
            0.0
        };
    }
}

/// A categorical distribution over `n` actions, parameterised by logits.
///
/// Call [`Categorical::log_softmax`] once per batch; every other method works on its output
/// (`log_probs`), which is also what the backward pass needs, so keep it from the forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Categorical {
    pub n: usize,
}

impl Categorical {
    pub fn new(n: usize) -> Self {
        assert!(
            n > 0,
            "a categorical distribution needs at least one action"
        );
        Self { n }
    }

    /// Number of rows in a `[B x n]` slice.
    pub fn batch(&self, len: usize) -> usize {
        batch_of(len, self.n, "categorical logits")
    }

    /// Row-wise log-softmax of `logits` `[B x n]` into `log_probs` `[B x n]`. With a `mask`
    /// `[B x n]` (`true` = allowed, as Gymnasium's `action_mask` 1), disallowed actions get
    /// log-probability `-inf`: they are never sampled, contribute nothing to the entropy and
    /// receive zero gradient. Panics if a row allows no action.
    pub fn log_softmax(&self, logits: &[f32], mask: Option<&[bool]>, log_probs: &mut [f32]) {
        let n = self.n;
        self.batch(logits.len());
        expect_len(log_probs.len(), logits.len(), "categorical log_probs");
        if let Some(m) = mask {
            expect_len(m.len(), logits.len(), "categorical action mask");
        }
        for (r, (z, out)) in logits
            .chunks_exact(n)
            .zip(log_probs.chunks_exact_mut(n))
            .enumerate()
        {
            log_softmax_row(z, mask.map(|m| &m[r * n..(r + 1) * n]), out);
        }
    }

    /// Samples one action per row of `log_probs` into `actions` `[B]`.
    pub fn sample<R: Rng + ?Sized>(&self, log_probs: &[f32], rng: &mut R, actions: &mut [usize]) {
        expect_len(
            actions.len(),
            self.batch(log_probs.len()),
            "categorical actions",
        );
        for (lp, a) in log_probs.chunks_exact(self.n).zip(actions) {
            *a = sample_row(lp, rng);
        }
    }

    /// The most probable action of each row (lowest index on ties, like `argmax`).
    pub fn mode(&self, log_probs: &[f32], actions: &mut [usize]) {
        expect_len(
            actions.len(),
            self.batch(log_probs.len()),
            "categorical actions",
        );
        for (lp, a) in log_probs.chunks_exact(self.n).zip(actions) {
            *a = mode_row(lp);
        }
    }

    /// `log p(actions[b])` for each row into `out` `[B]`.
    pub fn log_prob(&self, log_probs: &[f32], actions: &[usize], out: &mut [f32]) {
        let b = self.batch(log_probs.len());
        expect_len(actions.len(), b, "categorical actions");
        expect_len(out.len(), b, "categorical log_prob output");
        for ((lp, &a), o) in log_probs.chunks_exact(self.n).zip(actions).zip(out) {
            assert!(a < self.n, "action {a} out of range for {} actions", self.n);
            *o = lp[a];
        }
    }

    /// Entropy of each row into `out` `[B]`.
    pub fn entropy(&self, log_probs: &[f32], out: &mut [f32]) {
        expect_len(
            out.len(),
            self.batch(log_probs.len()),
            "categorical entropy output",
        );
        for (lp, o) in log_probs.chunks_exact(self.n).zip(out) {
            *o = entropy_row(lp);
        }
    }

    /// Given `d_log_prob[b]` = `dL/d log p(actions[b])` and `d_entropy[b]` = `dL/dH[b]`, writes
    /// dL/d logits into `d_logits` `[B x n]` (overwriting). Pass zeros for either upstream
    /// to leave that term out.
    pub fn backward(
        &self,
        log_probs: &[f32],
        actions: &[usize],
        d_log_prob: &[f32],
        d_entropy: &[f32],
        d_logits: &mut [f32],
    ) {
        let b = self.batch(log_probs.len());
        expect_len(actions.len(), b, "categorical actions");
        expect_len(d_log_prob.len(), b, "categorical d_log_prob");
        expect_len(d_entropy.len(), b, "categorical d_entropy");
        expect_len(d_logits.len(), log_probs.len(), "categorical d_logits");
        for r in 0..b {
            let row = r * self.n..(r + 1) * self.n;
            backward_row(
                &log_probs[row.clone()],
                actions[r],
                d_log_prob[r],
                d_entropy[r],
                &mut d_logits[row],
            );
        }
    }
}

/// Independent categoricals for a MultiDiscrete action space: component `k` has `nvec[k]`
/// choices; logits of a row are the components' logits concatenated (width `sum(nvec)`);
/// actions of a row are `nvec.len()` indices. Log-probability and entropy of a row are the
/// sums over components (independence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiCategorical {
    nvec: Vec<usize>,
    width: usize,
}

impl MultiCategorical {
    pub fn new(nvec: &[usize]) -> Self {
        assert!(
            !nvec.is_empty() && nvec.iter().all(|&n| n > 0),
            "a multi-categorical distribution needs at least one component, each with at least one choice (got {nvec:?})"
        );
        Self {
            nvec: nvec.to_vec(),
            width: nvec.iter().sum(),
        }
    }

    pub fn nvec(&self) -> &[usize] {
        &self.nvec
    }

    /// Logits per row: `sum(nvec)`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Action indices per row: `nvec.len()`.
    pub fn components(&self) -> usize {
        self.nvec.len()
    }

    pub fn batch(&self, len: usize) -> usize {
        batch_of(len, self.width, "multi-categorical logits")
    }

    /// Log-softmax of each component of each row; `mask` as for [`Categorical`], concatenated.
    pub fn log_softmax(&self, logits: &[f32], mask: Option<&[bool]>, log_probs: &mut [f32]) {
        self.batch(logits.len());
        expect_len(log_probs.len(), logits.len(), "multi-categorical log_probs");
        if let Some(m) = mask {
            expect_len(m.len(), logits.len(), "multi-categorical action mask");
        }
        let mut start = 0;
        while start < logits.len() {
            for &n in &self.nvec {
                let r = start..start + n;
                log_softmax_row(
                    &logits[r.clone()],
                    mask.map(|m| &m[r.clone()]),
                    &mut log_probs[r],
                );
                start += n;
            }
        }
    }

    fn rows_and_actions(&self, log_probs: &[f32], actions_len: usize) -> usize {
        let b = self.batch(log_probs.len());
        expect_len(
            actions_len,
            b * self.nvec.len(),
            "multi-categorical actions",
        );
        b
    }

    /// Samples `[B x components]` actions.
    pub fn sample<R: Rng + ?Sized>(&self, log_probs: &[f32], rng: &mut R, actions: &mut [usize]) {
        self.rows_and_actions(log_probs, actions.len());
        let (mut start, mut k) = (0, 0);
        while start < log_probs.len() {
            for &n in &self.nvec {
                actions[k] = sample_row(&log_probs[start..start + n], rng);
                start += n;
                k += 1;
            }
        }
    }

    pub fn mode(&self, log_probs: &[f32], actions: &mut [usize]) {
        self.rows_and_actions(log_probs, actions.len());
        let (mut start, mut k) = (0, 0);
        while start < log_probs.len() {
            for &n in &self.nvec {
                actions[k] = mode_row(&log_probs[start..start + n]);
                start += n;
                k += 1;
            }
        }
    }

    /// Sum over components of `log p(action_k)` per row into `out` `[B]`.
    pub fn log_prob(&self, log_probs: &[f32], actions: &[usize], out: &mut [f32]) {
        let b = self.rows_and_actions(log_probs, actions.len());
        expect_len(out.len(), b, "multi-categorical log_prob output");
        let (mut start, mut k) = (0, 0);
        for o in out.iter_mut() {
            let mut sum = 0.0;
            for &n in &self.nvec {
                let a = actions[k];
                assert!(
                    a < n,
                    "action {a} out of range for a component of {n} choices"
                );
                sum += log_probs[start + a];
                start += n;
                k += 1;
            }
            *o = sum;
        }
    }

    /// Sum over components of the entropies per row into `out` `[B]`.
    pub fn entropy(&self, log_probs: &[f32], out: &mut [f32]) {
        expect_len(
            out.len(),
            self.batch(log_probs.len()),
            "multi-categorical entropy",
        );
        let mut start = 0;
        for o in out.iter_mut() {
            let mut sum = 0.0;
            for &n in &self.nvec {
                sum += entropy_row(&log_probs[start..start + n]);
                start += n;
            }
            *o = sum;
        }
    }

    /// As [`Categorical::backward`]; every component receives its row's upstream derivatives.
    pub fn backward(
        &self,
        log_probs: &[f32],
        actions: &[usize],
        d_log_prob: &[f32],
        d_entropy: &[f32],
        d_logits: &mut [f32],
    ) {
        let b = self.rows_and_actions(log_probs, actions.len());
        expect_len(d_log_prob.len(), b, "multi-categorical d_log_prob");
        expect_len(d_entropy.len(), b, "multi-categorical d_entropy");
        expect_len(
            d_logits.len(),
            log_probs.len(),
            "multi-categorical d_logits",
        );
        let (mut start, mut k) = (0, 0);
        for r in 0..b {
            for &n in &self.nvec {
                let range = start..start + n;
                backward_row(
                    &log_probs[range.clone()],
                    actions[k],
                    d_log_prob[r],
                    d_entropy[r],
                    &mut d_logits[range],
                );
                start += n;
                k += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Diagonal Gaussian

/// A diagonal Gaussian over `dim`-dimensional actions with mean `[B x dim]` and log standard
/// deviation either state-independent (`log_std` of length `dim`, a parameter shared by all
/// rows: PPO/A2C's default) or state-dependent (`[B x dim]`, a network head's output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagGaussian {
    pub dim: usize,
}

impl DiagGaussian {
    pub fn new(dim: usize) -> Self {
        assert!(
            dim > 0,
            "a Gaussian distribution needs at least one dimension"
        );
        Self { dim }
    }

    pub fn batch(&self, len: usize) -> usize {
        batch_of(len, self.dim, "Gaussian mean")
    }

    /// Whether `log_std` is shared by all rows; checks its length against `mean_len`.
    fn shared_log_std(&self, log_std: &[f32], mean_len: usize) -> bool {
        assert!(
            log_std.len() == self.dim || log_std.len() == mean_len,
            "Gaussian log_std has {} elements: expected {} (state-independent) or {} (one per mean element)",
            log_std.len(),
            self.dim,
            mean_len
        );
        // With one row both readings coincide.
        log_std.len() == self.dim
    }

    #[inline]
    fn ls(log_std: &[f32], shared: bool, i: usize, dim: usize) -> f32 {
        if shared {
            log_std[i % dim]
        } else {
            log_std[i]
        }
    }

    /// Draws `actions = mean + exp(log_std) * N(0, 1)`.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        mean: &[f32],
        log_std: &[f32],
        rng: &mut R,
        actions: &mut [f32],
    ) {
        self.batch(mean.len());
        let shared = self.shared_log_std(log_std, mean.len());
        expect_len(actions.len(), mean.len(), "Gaussian actions");
        for (i, (a, &m)) in actions.iter_mut().zip(mean).enumerate() {
            *a = m + Self::ls(log_std, shared, i, self.dim).exp() * standard_normal(rng);
        }
    }

    /// The mode is the mean.
    pub fn mode(&self, mean: &[f32], actions: &mut [f32]) {
        expect_len(actions.len(), mean.len(), "Gaussian actions");
        actions.copy_from_slice(mean);
    }

    /// `sum_d [-((a - mu) / sigma)^2 / 2 - log sigma - ln(2 pi) / 2]` per row into `out` `[B]`.
    pub fn log_prob(&self, mean: &[f32], log_std: &[f32], actions: &[f32], out: &mut [f32]) {
        let b = self.batch(mean.len());
        let shared = self.shared_log_std(log_std, mean.len());
        expect_len(actions.len(), mean.len(), "Gaussian actions");
        expect_len(out.len(), b, "Gaussian log_prob output");
        for (r, o) in out.iter_mut().enumerate() {
            let mut sum = 0.0;
            for i in r * self.dim..(r + 1) * self.dim {
                let ls = Self::ls(log_std, shared, i, self.dim);
                let z = (actions[i] - mean[i]) * (-ls).exp();
                sum += -0.5 * z * z - ls - 0.5 * LN_2PI;
            }
            *o = sum;
        }
    }

    /// `sum_d [1/2 + ln(2 pi)/2 + log sigma]` per row into `out` `[B]`. With a shared log-std
    /// every row is the same.
    pub fn entropy(&self, log_std: &[f32], out: &mut [f32]) {
        let b = out.len();
        assert!(
            log_std.len() == self.dim || log_std.len() == b * self.dim,
            "Gaussian entropy: log_std has {} elements, expected {} or {}",
            log_std.len(),
            self.dim,
            b * self.dim
        );
        let shared = log_std.len() == self.dim;
        for (r, o) in out.iter_mut().enumerate() {
            let row = if shared {
                log_std
            } else {
                &log_std[r * self.dim..(r + 1) * self.dim]
            };
            *o = row.iter().map(|&ls| 0.5 + 0.5 * LN_2PI + ls).sum();
        }
    }

    /// Writes dL/d mean `[B x dim]` and dL/d log_std (same length as `log_std`; summed over
    /// the batch when state-independent), overwriting, given `d_log_prob[b]` and
    /// `d_entropy[b]`. The actions are constants (the score-function gradient of PPO/A2C):
    /// d log p / d mu = z / sigma, d log p / d log sigma = z^2 - 1, d H / d log sigma = 1.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        mean: &[f32],
        log_std: &[f32],
        actions: &[f32],
        d_log_prob: &[f32],
        d_entropy: &[f32],
        d_mean: &mut [f32],
        d_log_std: &mut [f32],
    ) {
        let b = self.batch(mean.len());
        let shared = self.shared_log_std(log_std, mean.len());
        expect_len(actions.len(), mean.len(), "Gaussian actions");
        expect_len(d_log_prob.len(), b, "Gaussian d_log_prob");
        expect_len(d_entropy.len(), b, "Gaussian d_entropy");
        expect_len(d_mean.len(), mean.len(), "Gaussian d_mean");
        expect_len(d_log_std.len(), log_std.len(), "Gaussian d_log_std");
        d_log_std.fill(0.0);
        for r in 0..b {
            for i in r * self.dim..(r + 1) * self.dim {
                let ls = Self::ls(log_std, shared, i, self.dim);
                let inv_sigma = (-ls).exp();
                let z = (actions[i] - mean[i]) * inv_sigma;
                d_mean[i] = d_log_prob[r] * z * inv_sigma;
                let j = if shared { i % self.dim } else { i };
                d_log_std[j] += d_log_prob[r] * (z * z - 1.0) + d_entropy[r];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generalized state-dependent exploration (gSDE)

/// Generalized state-dependent exploration (Raffin, Kober & Stulp 2021, "Smooth Exploration
/// for Robotic Reinforcement Learning"; SB3's `use_sde`).
///
/// Instead of fresh Gaussian noise every step, the action noise is a linear function of the
/// policy's latent features `z` `[latent]`: `a = mean + z^T E`, where the exploration matrix
/// `E` `[latent x dim]` is drawn from `N(0, sigma^2)` elementwise, `sigma = exp(log_std)`
/// (`log_std` `[latent x dim]`, a parameter), and kept for several steps. Within those steps
/// the same state gives the same noise, so exploration is smooth, and it varies with the
/// state rather than being a constant offset.
///
/// For a fixed `z` the action is Gaussian with per-dimension standard deviation
/// `s_j = sqrt(sum_i z_i^2 sigma_ij^2 + eps)` (`eps` = 1e-6, as in SB3), which is what
/// [`Gsde::log_sigma`] computes; log-probabilities and entropies are then those of a
/// [`DiagGaussian`] with the state-dependent log-std `ln s`. As in SB3 (`learn_features =
/// False`) the features are treated as constants: gradients reach `log_std` and the mean, not
/// the network below the features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gsde {
    /// Width of the latent features `z`.
    pub latent: usize,
    /// Action dimensions.
    pub dim: usize,
}

impl Gsde {
    /// SB3's `StateDependentNoiseDistribution.epsilon`: keeps `s_j > 0` when `z = 0`.
    pub const EPS: f32 = 1e-6;

    pub fn new(latent: usize, dim: usize) -> Self {
        assert!(
            latent > 0 && dim > 0,
            "gSDE needs at least one latent feature and one action dimension"
        );
        Self { latent, dim }
    }

    /// Elements of `log_std` (and of one exploration matrix).
    pub fn matrix_len(&self) -> usize {
        self.latent * self.dim
    }

    /// Draws `matrices.len() / (latent * dim)` exploration matrices, each element
    /// `exp(log_std_ij) * N(0, 1)`.
    pub fn sample_exploration<R: Rng + ?Sized>(
        &self,
        log_std: &[f32],
        rng: &mut R,
        matrices: &mut [f32],
    ) {
        expect_len(log_std.len(), self.matrix_len(), "gSDE log_std");
        batch_of(
            matrices.len(),
            self.matrix_len(),
            "gSDE exploration matrices",
        );
        for m in matrices.chunks_exact_mut(self.matrix_len()) {
            for (e, &ls) in m.iter_mut().zip(log_std) {
                *e = ls.exp() * standard_normal(rng);
            }
        }
    }

    /// `noise[b] = z[b]^T E[b]` `[B x dim]`, each row with its own exploration matrix
    /// (`matrices` holds `B` of them).
    pub fn noise(&self, features: &[f32], matrices: &[f32], noise: &mut [f32]) {
        let b = batch_of(features.len(), self.latent, "gSDE features");
        expect_len(
            matrices.len(),
            b * self.matrix_len(),
            "gSDE exploration matrices",
        );
        expect_len(noise.len(), b * self.dim, "gSDE noise");
        for ((z, m), out) in features
            .chunks_exact(self.latent)
            .zip(matrices.chunks_exact(self.matrix_len()))
            .zip(noise.chunks_exact_mut(self.dim))
        {
            out.fill(0.0);
            for (&zi, m_row) in z.iter().zip(m.chunks_exact(self.dim)) {
                for (o, &e) in out.iter_mut().zip(m_row) {
                    *o += zi * e;
                }
            }
        }
    }

    /// `ln s` `[B x dim]` with `s_j^2 = sum_i z_i^2 exp(2 log_std_ij) + eps`: the log-std of
    /// the action distribution for each row's features.
    pub fn log_sigma(&self, features: &[f32], log_std: &[f32], log_sigma: &mut [f32]) {
        let b = batch_of(features.len(), self.latent, "gSDE features");
        expect_len(log_std.len(), self.matrix_len(), "gSDE log_std");
        expect_len(log_sigma.len(), b * self.dim, "gSDE log_sigma");
        log_sigma.fill(0.0);
        // Each exp(2 log_std) once per call, not once per row.
        for (i, ls_row) in log_std.chunks_exact(self.dim).enumerate() {
            for (j, &ls) in ls_row.iter().enumerate() {
                let var = (2.0 * ls).exp();
                for (z, out) in features
                    .chunks_exact(self.latent)
                    .zip(log_sigma.chunks_exact_mut(self.dim))
                {
                    out[j] += z[i] * z[i] * var;
                }
            }
        }
        for o in log_sigma.iter_mut() {
            *o = 0.5 * (*o + Self::EPS).ln();
        }
    }

    /// Writes into `d_log_std` `[latent x dim]` the gradient of the loss given its gradient
    /// `d_log_sigma` with respect to [`Gsde::log_sigma`]'s output:
    /// `d ln s_j / d log_std_ij = z_i^2 exp(2 log_std_ij) / s_j^2`, summed over the rows.
    pub fn backward(
        &self,
        features: &[f32],
        log_std: &[f32],
        log_sigma: &[f32],
        d_log_sigma: &[f32],
        d_log_std: &mut [f32],
    ) {
        let b = batch_of(features.len(), self.latent, "gSDE features");
        expect_len(log_std.len(), self.matrix_len(), "gSDE log_std");
        expect_len(log_sigma.len(), b * self.dim, "gSDE log_sigma");
        expect_len(d_log_sigma.len(), b * self.dim, "gSDE d_log_sigma");
        expect_len(d_log_std.len(), self.matrix_len(), "gSDE d_log_std");
        d_log_std.fill(0.0);
        // sum_b z_bi^2 * d_bj / s_bj^2 first, times exp(2 log_std_ij) once at the end.
        for ((z, lsig), dl) in features
            .chunks_exact(self.latent)
            .zip(log_sigma.chunks_exact(self.dim))
            .zip(d_log_sigma.chunks_exact(self.dim))
        {
            for (j, (&lsig, &dl)) in lsig.iter().zip(dl).enumerate() {
                let w = dl * (-2.0 * lsig).exp();
                for (&zi, d_row) in z.iter().zip(d_log_std.chunks_exact_mut(self.dim)) {
                    d_row[j] += zi * zi * w;
                }
            }
        }
        for (d, &ls) in d_log_std.iter_mut().zip(log_std) {
            *d *= (2.0 * ls).exp();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tanh-squashed Gaussian (SAC)

/// A Gaussian squashed by `tanh` into (-1, 1) for SAC (Haarnoja et al. 2018):
/// `u = mean + exp(log_std) * noise`, `a = tanh(u)`, with the log-probability of `a`
/// `sum_d [log N(u; mean, sigma) - log(1 - tanh(u)^2)]`, where the correction uses the stable
/// form `log(1 - tanh(u)^2) = 2 (ln 2 - u - softplus(-2u))` (no `1 - a^2` cancellation).
///
/// Gradients are reparameterised: the `noise` is held fixed and derivatives flow through `u`
/// into `mean` and `log_std`. Rescaling from (-1, 1) to the environment's bounds is the
/// caller's (it adds a constant `-sum log(scale)` to the log-probability).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TanhGaussian {
    pub dim: usize,
}

impl TanhGaussian {
    pub fn new(dim: usize) -> Self {
        assert!(
            dim > 0,
            "a Gaussian distribution needs at least one dimension"
        );
        Self { dim }
    }

    fn check(&self, mean: &[f32], log_std: &[f32], noise: &[f32], actions: &[f32]) -> usize {
        let b = batch_of(mean.len(), self.dim, "tanh-Gaussian mean");
        expect_len(log_std.len(), mean.len(), "tanh-Gaussian log_std");
        expect_len(noise.len(), mean.len(), "tanh-Gaussian noise");
        expect_len(actions.len(), mean.len(), "tanh-Gaussian actions");
        b
    }

    /// Draws `noise ~ N(0, 1)` and then does [`TanhGaussian::rsample`]. Keep `noise` and
    /// `actions` for the backward pass.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        mean: &[f32],
        log_std: &[f32],
        rng: &mut R,
        noise: &mut [f32],
        actions: &mut [f32],
        log_prob: &mut [f32],
    ) {
        for e in noise.iter_mut() {
            *e = standard_normal(rng);
        }
        self.rsample(mean, log_std, noise, actions, log_prob);
    }

    /// Deterministic given `noise` `[B x dim]`: writes `actions = tanh(mean + sigma * noise)`
    /// and their log-probabilities `[B]`. `log_std` is `[B x dim]` (a head output, as in SAC).
    pub fn rsample(
        &self,
        mean: &[f32],
        log_std: &[f32],
        noise: &[f32],
        actions: &mut [f32],
        log_prob: &mut [f32],
    ) {
        let b = self.check(mean, log_std, noise, actions);
        expect_len(log_prob.len(), b, "tanh-Gaussian log_prob output");
        for (r, lp) in log_prob.iter_mut().enumerate() {
            let mut sum = 0.0;
            for i in r * self.dim..(r + 1) * self.dim {
                let e = noise[i];
                let u = mean[i] + log_std[i].exp() * e;
                actions[i] = u.tanh();
                let log_one_minus_tanh2 = 2.0 * (LN_2 - u - softplus(-2.0 * u));
                sum += -0.5 * e * e - log_std[i] - 0.5 * LN_2PI - log_one_minus_tanh2;
            }
            *lp = sum;
        }
    }

    /// Deterministic action for evaluation: `tanh(mean)`.
    pub fn mode(&self, mean: &[f32], actions: &mut [f32]) {
        expect_len(actions.len(), mean.len(), "tanh-Gaussian actions");
        for (a, &m) in actions.iter_mut().zip(mean) {
            *a = m.tanh();
        }
    }

    /// Given `d_actions` `[B x dim]` = dL/da (e.g. minus the critic's action gradient) and
    /// `d_log_prob` `[B]` = dL/d log pi (SAC's alpha), writes dL/d mean and dL/d log_std
    /// `[B x dim]` (overwriting), through the reparameterised sample:
    /// dL/du = dL/da (1 - a^2) + dL/dlogp 2a; d u/d mean = 1; d u/d log_std = sigma * noise;
    /// and the Gaussian term contributes -dL/dlogp to each log_std.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        log_std: &[f32],
        noise: &[f32],
        actions: &[f32],
        d_actions: &[f32],
        d_log_prob: &[f32],
        d_mean: &mut [f32],
        d_log_std: &mut [f32],
    ) {
        let b = self.check(actions, log_std, noise, actions);
        expect_len(d_actions.len(), actions.len(), "tanh-Gaussian d_actions");
        expect_len(d_log_prob.len(), b, "tanh-Gaussian d_log_prob");
        expect_len(d_mean.len(), actions.len(), "tanh-Gaussian d_mean");
        expect_len(d_log_std.len(), actions.len(), "tanh-Gaussian d_log_std");
        for (r, &dlp) in d_log_prob.iter().enumerate() {
            for i in r * self.dim..(r + 1) * self.dim {
                let a = actions[i];
                let du = d_actions[i] * (1.0 - a * a) + dlp * 2.0 * a;
                d_mean[i] = du;
                d_log_std[i] = du * log_std[i].exp() * noise[i] - dlp;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn uniform(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
    }

    const TOL: f64 = 1e-3;
    const FLOOR: f64 = 1e-2;
    const EPS: f32 = 1e-2;

    #[test]
    fn categorical_values_by_hand() {
        let c = Categorical::new(3);
        let logits = [0.0, 0.0, 0.0, 1.0, 2.0, 3.0];
        let mut lp = [0.0; 6];
        c.log_softmax(&logits, None, &mut lp);
        let mut h = [0.0; 2];
        c.entropy(&lp, &mut h);
        assert!((lp[0] - (1.0f32 / 3.0).ln()).abs() < 1e-6);
        assert!((h[0] - 3f32.ln()).abs() < 1e-6);
        // Softmax of (1, 2, 3) = (0.0900306, 0.2447285, 0.6652410).
        let p: Vec<f32> = lp[3..].iter().map(|x| x.exp()).collect();
        for (a, b) in p.iter().zip([0.090_030_6, 0.244_728_5, 0.665_241]) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut modes = [9; 2];
        c.mode(&lp, &mut modes);
        assert_eq!(modes, [0, 2]);
        let mut out = [0.0; 2];
        c.log_prob(&lp, &[1, 2], &mut out);
        assert_eq!(out, [lp[1], lp[5]]);
    }

    #[test]
    fn categorical_mask_gives_zero_probability() {
        let c = Categorical::new(3);
        let logits = [5.0, 0.0, 1.0];
        let mask = [false, true, true];
        let mut lp = [0.0; 3];
        c.log_softmax(&logits, Some(&mask), &mut lp);
        assert_eq!(lp[0], f32::NEG_INFINITY);
        assert!((lp[1].exp() + lp[2].exp() - 1.0).abs() < 1e-6);
        let mut r = rng();
        let mut a = [0usize; 1];
        for _ in 0..1000 {
            c.sample(&lp, &mut r, &mut a);
            assert_ne!(a[0], 0);
        }
        let mut modes = [9];
        c.mode(&lp, &mut modes);
        assert_eq!(modes, [2]);
        let mut h = [0.0];
        c.entropy(&lp, &mut h);
        assert!(h[0].is_finite() && h[0] > 0.0);
        let mut d = [1.0; 3];
        c.backward(&lp, &[1], &[1.0], &[1.0], &mut d);
        assert_eq!(d[0], 0.0);
        assert!(d.iter().all(|x| x.is_finite()));
    }

    #[test]
    #[should_panic(expected = "every action masked")]
    fn categorical_all_masked_is_a_clear_error() {
        let mut lp = [0.0; 2];
        Categorical::new(2).log_softmax(&[0.0, 0.0], Some(&[false, false]), &mut lp);
    }

    #[test]
    fn categorical_of_nan_logits_gives_nan_log_probs_and_allowed_actions_not_a_panic() {
        // A diverged network's logits: the caller's NaN guard sees NaN log-probabilities.
        let c = Categorical::new(3);
        let mut lp = [0.0; 3];
        c.log_softmax(
            &[f32::NAN, f32::NAN, f32::NAN],
            Some(&[false, true, true]),
            &mut lp,
        );
        assert_eq!(lp[0], f32::NEG_INFINITY);
        assert!(lp[1].is_nan() && lp[2].is_nan());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut actions = [9];
        c.sample(&lp, &mut rng, &mut actions);
        assert!(actions[0] == 1 || actions[0] == 2, "{actions:?}");
        c.mode(&lp, &mut actions);
        assert_eq!(actions, [1]);
    }

    #[test]
    fn categorical_sampling_frequencies_match_probabilities() {
        let c = Categorical::new(3);
        let mut lp = [0.0; 3];
        c.log_softmax(&[0.0, 1.0, -1.0], None, &mut lp);
        let mut counts = [0usize; 3];
        let mut r = rng();
        let mut a = [0usize];
        let draws = 100_000;
        for _ in 0..draws {
            c.sample(&lp, &mut r, &mut a);
            counts[a[0]] += 1;
        }
        for j in 0..3 {
            let freq = counts[j] as f32 / draws as f32;
            // 5 standard errors of a binomial proportion.
            let p = lp[j].exp();
            let se = (p * (1.0 - p) / draws as f32).sqrt();
            assert!((freq - p).abs() < 5.0 * se, "action {j}: {freq} vs {p}");
        }
    }

    /// L = sum_b w_b log p(a_b) + v_b H_b, checked against finite differences of the logits.
    fn check_categorical(mask: Option<&[bool]>) {
        let c = Categorical::new(4);
        let b = 3;
        let mut r = rng();
        let logits = uniform(&mut r, b * 4, 2.0);
        let w = uniform(&mut r, b, 1.0);
        let v = uniform(&mut r, b, 1.0);
        let actions = [1usize, 3, 2];
        let loss = |z: &[f32]| {
            let mut lp = vec![0.0; z.len()];
            c.log_softmax(z, mask, &mut lp);
            let (mut l, mut h) = (vec![0.0; b], vec![0.0; b]);
            c.log_prob(&lp, &actions, &mut l);
            c.entropy(&lp, &mut h);
            (0..b)
                .map(|i| w[i] as f64 * l[i] as f64 + v[i] as f64 * h[i] as f64)
                .sum()
        };
        let mut lp = vec![0.0; b * 4];
        c.log_softmax(&logits, mask, &mut lp);
        let mut d = vec![0.0; b * 4];
        c.backward(&lp, &actions, &w, &v, &mut d);
        check_gradient(loss, &logits, &d, EPS, TOL, FLOOR).unwrap();
    }

    #[test]
    fn categorical_gradient() {
        check_categorical(None);
        let mask = [
            true, true, false, true, //
            false, true, true, true, //
            true, true, true, false,
        ];
        check_categorical(Some(&mask));
    }

    #[test]
    fn multi_categorical_matches_independent_components_and_gradient() {
        let mc = MultiCategorical::new(&[2, 3]);
        let b = 2;
        let mut r = rng();
        let logits = uniform(&mut r, b * 5, 2.0);
        let actions = [1usize, 2, 0, 0];
        let mut lp = vec![0.0; b * 5];
        mc.log_softmax(&logits, None, &mut lp);
        let mut l = [0.0; 2];
        mc.log_prob(&lp, &actions, &mut l);
        let mut h = [0.0; 2];
        mc.entropy(&lp, &mut h);
        // Compare with separate categoricals.
        let (c2, c3) = (Categorical::new(2), Categorical::new(3));
        for row in 0..b {
            let z = &logits[row * 5..row * 5 + 5];
            let (mut a, mut bb) = ([0.0; 2], [0.0; 3]);
            c2.log_softmax(&z[..2], None, &mut a);
            c3.log_softmax(&z[2..], None, &mut bb);
            let want = a[actions[row * 2]] + bb[actions[row * 2 + 1]];
            assert!((l[row] - want).abs() < 1e-6);
            let (mut ha, mut hb) = ([0.0], [0.0]);
            c2.entropy(&a, &mut ha);
            c3.entropy(&bb, &mut hb);
            assert!((h[row] - ha[0] - hb[0]).abs() < 1e-6);
        }
        let mut modes = [0usize; 4];
        mc.mode(&lp, &mut modes);
        let mut sampled = [0usize; 4];
        mc.sample(&lp, &mut r, &mut sampled);
        for (k, &a) in sampled.iter().enumerate() {
            assert!(a < mc.nvec()[k % 2]);
        }

        let w = [0.7, -0.4];
        let v = [0.3, 0.9];
        let loss = |z: &[f32]| {
            let mut lp = vec![0.0; z.len()];
            mc.log_softmax(z, None, &mut lp);
            let (mut l, mut h) = ([0.0; 2], [0.0; 2]);
            mc.log_prob(&lp, &actions, &mut l);
            mc.entropy(&lp, &mut h);
            (0..b)
                .map(|i| w[i] as f64 * l[i] as f64 + v[i] as f64 * h[i] as f64)
                .sum()
        };
        let mut d = vec![0.0; b * 5];
        mc.backward(&lp, &actions, &w, &v, &mut d);
        check_gradient(loss, &logits, &d, EPS, TOL, FLOOR).unwrap();
    }

    #[test]
    fn gaussian_values_by_hand() {
        let g = DiagGaussian::new(1);
        // Standard normal at 0: -ln(2 pi)/2 = -0.9189385.
        let mut lp = [0.0];
        g.log_prob(&[0.0], &[0.0], &[0.0], &mut lp);
        assert!((lp[0] + 0.918_938_5).abs() < 1e-6);
        // N(1, e^2) at 3: z = 2/e; -z^2/2 - 1 - 0.9189385.
        g.log_prob(&[1.0], &[1.0], &[3.0], &mut lp);
        let z = 2.0 / std::f32::consts::E;
        assert!((lp[0] - (-0.5 * z * z - 1.0 - 0.918_938_5)).abs() < 1e-6);
        let mut h = [0.0; 2];
        g.entropy(&[0.5], &mut h);
        assert!((h[0] - (1.418_938_5 + 0.5)).abs() < 1e-6 && h[0] == h[1]);
    }

    #[test]
    fn gaussian_sampling_moments() {
        let g = DiagGaussian::new(2);
        let n = 50_000;
        let mean: Vec<f32> = (0..n).flat_map(|_| [1.0, -2.0]).collect();
        let log_std = [0.0, (0.5f32).ln()];
        let mut a = vec![0.0; 2 * n];
        g.sample(&mean, &log_std, &mut rng(), &mut a);
        for d in 0..2 {
            let xs: Vec<f32> = a.iter().skip(d).step_by(2).copied().collect();
            let m = xs.iter().sum::<f32>() / n as f32;
            let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32;
            let sd = log_std[d].exp();
            assert!(
                (m - mean[d]).abs() < 5.0 * sd / (n as f32).sqrt(),
                "mean {m}"
            );
            assert!((var.sqrt() - sd).abs() < 0.02 * sd, "std {}", var.sqrt());
        }
        let mut mode = vec![0.0; 4];
        g.mode(&mean[..4], &mut mode);
        assert_eq!(mode, &mean[..4]);
    }

    /// L = sum_b w_b log p(x_b) + v_b H_b w.r.t. mean and log_std, for both log-std modes.
    fn check_gaussian(shared: bool) {
        let dim = 3;
        let b = 2;
        let g = DiagGaussian::new(dim);
        let mut r = rng();
        let mean = uniform(&mut r, b * dim, 1.0);
        let log_std = uniform(&mut r, if shared { dim } else { b * dim }, 0.5);
        let actions = uniform(&mut r, b * dim, 1.5);
        let w = [0.8, -0.5];
        let v = [0.2, 0.6];
        let loss = |m: &[f32], ls: &[f32]| -> f64 {
            let (mut l, mut h) = ([0.0; 2], [0.0; 2]);
            g.log_prob(m, ls, &actions, &mut l);
            g.entropy(ls, &mut h);
            (0..b)
                .map(|i| w[i] as f64 * l[i] as f64 + v[i] as f64 * h[i] as f64)
                .sum()
        };
        let mut dm = vec![0.0; mean.len()];
        let mut dls = vec![0.0; log_std.len()];
        g.backward(&mean, &log_std, &actions, &w, &v, &mut dm, &mut dls);
        check_gradient(|m| loss(m, &log_std), &mean, &dm, EPS, TOL, FLOOR).unwrap();
        check_gradient(|ls| loss(&mean, ls), &log_std, &dls, EPS, TOL, FLOOR).unwrap();
    }

    #[test]
    fn gaussian_gradient_state_independent_log_std() {
        check_gaussian(true);
    }

    #[test]
    fn gaussian_gradient_state_dependent_log_std() {
        check_gaussian(false);
    }

    #[test]
    fn gsde_sigma_matches_variance_of_its_noise() {
        // For fixed features, z^T E with E_ij ~ N(0, sigma_ij^2) has variance
        // sum_i z_i^2 sigma_ij^2: the distribution the log-probabilities describe.
        let (latent, dim) = (3, 2);
        let g = Gsde::new(latent, dim);
        let mut r = rng();
        let log_std = uniform(&mut r, latent * dim, 0.7);
        let z = [0.9f32, -0.4, 0.25];
        let mut log_sigma = [0.0; 2];
        g.log_sigma(&z, &log_std, &mut log_sigma);
        let n = 100_000;
        let mut matrices = vec![0.0; latent * dim];
        let (mut sum, mut sum2) = ([0.0f64; 2], [0.0f64; 2]);
        let mut noise = [0.0; 2];
        for _ in 0..n {
            g.sample_exploration(&log_std, &mut r, &mut matrices);
            g.noise(&z, &matrices, &mut noise);
            for d in 0..dim {
                sum[d] += noise[d] as f64;
                sum2[d] += (noise[d] as f64).powi(2);
            }
        }
        for d in 0..dim {
            let mean = sum[d] / n as f64;
            let sd = (sum2[d] / n as f64 - mean * mean).sqrt();
            let want: f64 = (0..latent)
                .map(|i| (z[i] as f64).powi(2) * (2.0 * log_std[i * dim + d] as f64).exp())
                .sum::<f64>()
                .sqrt();
            assert!(
                (sd - want).abs() < 0.01 * want,
                "dim {d}: sd {sd}, want {want}"
            );
            assert!((log_sigma[d] as f64 - want.ln()).abs() < 1e-4);
            assert!(mean.abs() < 5.0 * want / (n as f64).sqrt());
        }
    }

    #[test]
    fn gsde_rows_use_their_own_matrices() {
        let g = Gsde::new(2, 1);
        let z = [1.0, 2.0, 1.0, 2.0];
        let m = [0.5, -1.0, 3.0, 0.0];
        let mut noise = [0.0; 2];
        g.noise(&z, &m, &mut noise);
        assert_eq!(noise, [0.5 - 2.0, 3.0]);
    }

    #[test]
    fn gsde_gradient() {
        // L = sum_b w_b log p(a_b) + v_b H_b through ln s = log_sigma(z, log_std), checked
        // against finite differences of log_std and of the mean.
        let (latent, dim, b) = (4, 2, 3);
        let g = Gsde::new(latent, dim);
        let gauss = DiagGaussian::new(dim);
        let mut r = rng();
        let z = uniform(&mut r, b * latent, 1.0);
        let log_std = uniform(&mut r, latent * dim, 0.5);
        let mean = uniform(&mut r, b * dim, 1.0);
        let actions = uniform(&mut r, b * dim, 1.5);
        let w = [0.8, -0.5, 0.3];
        let v = [0.2, 0.6, -0.4];
        let loss = |m: &[f32], ls: &[f32]| -> f64 {
            let mut log_sigma = vec![0.0; b * dim];
            g.log_sigma(&z, ls, &mut log_sigma);
            let (mut l, mut h) = ([0.0; 3], [0.0; 3]);
            gauss.log_prob(m, &log_sigma, &actions, &mut l);
            gauss.entropy(&log_sigma, &mut h);
            (0..b)
                .map(|i| w[i] as f64 * l[i] as f64 + v[i] as f64 * h[i] as f64)
                .sum()
        };
        let mut log_sigma = vec![0.0; b * dim];
        g.log_sigma(&z, &log_std, &mut log_sigma);
        let mut dm = vec![0.0; mean.len()];
        let mut d_log_sigma = vec![0.0; b * dim];
        gauss.backward(
            &mean,
            &log_sigma,
            &actions,
            &w,
            &v,
            &mut dm,
            &mut d_log_sigma,
        );
        let mut dls = vec![0.0; log_std.len()];
        g.backward(&z, &log_std, &log_sigma, &d_log_sigma, &mut dls);
        check_gradient(|m| loss(m, &log_std), &mean, &dm, EPS, TOL, FLOOR).unwrap();
        check_gradient(|ls| loss(&mean, ls), &log_std, &dls, EPS, TOL, FLOOR).unwrap();
    }

    #[test]
    fn tanh_gaussian_log_prob_matches_change_of_variables() {
        // Naive formula log N(u) - log(1 - tanh(u)^2) in f64, away from saturation.
        let t = TanhGaussian::new(2);
        let mean = [0.3, -0.8];
        let log_std = [-0.2, 0.4];
        let noise = [0.5, -1.2];
        let mut a = [0.0; 2];
        let mut lp = [0.0];
        t.rsample(&mean, &log_std, &noise, &mut a, &mut lp);
        let mut want = 0.0f64;
        for d in 0..2 {
            let sigma = (log_std[d] as f64).exp();
            let u = mean[d] as f64 + sigma * noise[d] as f64;
            assert!((a[d] as f64 - u.tanh()).abs() < 1e-6);
            let z = (u - mean[d] as f64) / sigma;
            want += -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
            want -= (1.0 - u.tanh().powi(2)).ln();
        }
        assert!((lp[0] as f64 - want).abs() < 1e-5, "{} vs {want}", lp[0]);
        // Saturated: the stable form stays finite where 1 - tanh^2 rounds to 0 in f32.
        t.rsample(&[20.0, -20.0], &[0.0, 0.0], &[0.0, 0.0], &mut a, &mut lp);
        assert!(lp[0].is_finite() && lp[0] > 70.0, "{}", lp[0]);
        let mut m = [0.0; 2];
        t.mode(&[0.5, -0.5], &mut m);
        assert_eq!(m, [0.5f32.tanh(), (-0.5f32).tanh()]);
    }

    #[test]
    fn tanh_gaussian_gradient_through_reparameterised_sample() {
        let dim = 2;
        let b = 3;
        let t = TanhGaussian::new(dim);
        let mut r = rng();
        let mean = uniform(&mut r, b * dim, 1.0);
        let log_std = uniform(&mut r, b * dim, 0.7);
        let mut noise = vec![0.0; b * dim];
        let mut actions = vec![0.0; b * dim];
        let mut lp = vec![0.0; b];
        t.sample(&mean, &log_std, &mut r, &mut noise, &mut actions, &mut lp);
        // L = sum c . a + sum alpha_b log pi_b (SAC's actor loss shape with a linear critic).
        let c = uniform(&mut r, b * dim, 1.0);
        let alpha = [0.2, -0.3, 0.5];
        let loss = |m: &[f32], ls: &[f32]| -> f64 {
            let mut a = vec![0.0; b * dim];
            let mut l = vec![0.0; b];
            t.rsample(m, ls, &noise, &mut a, &mut l);
            let la: f64 = a.iter().zip(&c).map(|(&x, &y)| x as f64 * y as f64).sum();
            la + (0..b).map(|i| alpha[i] as f64 * l[i] as f64).sum::<f64>()
        };
        let mut dm = vec![0.0; b * dim];
        let mut dls = vec![0.0; b * dim];
        t.backward(&log_std, &noise, &actions, &c, &alpha, &mut dm, &mut dls);
        check_gradient(|m| loss(m, &log_std), &mean, &dm, EPS, TOL, FLOOR).unwrap();
        check_gradient(|ls| loss(&mean, ls), &log_std, &dls, EPS, TOL, FLOOR).unwrap();
    }

    #[test]
    fn standard_normal_moments() {
        let mut r = rng();
        let n = 100_000;
        let xs: Vec<f32> = (0..n).map(|_| standard_normal(&mut r)).collect();
        let m = xs.iter().sum::<f32>() / n as f32;
        let v = xs.iter().map(|x| x * x).sum::<f32>() / n as f32 - m * m;
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.02, "{m} {v}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }
}
