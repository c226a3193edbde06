//! CMA-ES (Hansen's covariance matrix adaptation evolution strategy) as a plain optimizer:
//! minimise any `Fn(&[f64]) -> f64`, or drive it yourself with [`CmaEs::ask`] /
//! [`CmaEs::tell`].
//!
//! It lives in engram-nn, beside the gradient optimizers, because it is pure numbers: it knows
//! nothing of policies, episodes or runs. engram's `--algo cmaes` is one caller (the fitness is
//! an episode return over a network's flat parameters); a benchmark function is another.
//!
//! The update follows Hansen's tutorial ("The CMA Evolution Strategy: A Tutorial", 2016,
//! appendix A) with pycma's default constants for positive weights:
//! * population `lambda = 4 + floor(3 ln N)`, parents `mu = floor(lambda / 2)`, weights
//!   `w_i ∝ ln((lambda + 1) / 2) - ln i` (i = 1..mu, summing to one), `mu_eff = 1 / sum w_i^2`;
//! * cumulative step-size adaptation (CSA): `c_sigma = (mu_eff + 2) / (N + mu_eff + 3)`,
//!   `d_sigma = 1 + 2 max(0, sqrt((mu_eff - 1) / (N + 1)) - 1) + c_sigma`;
//! * rank-one update with the evolution path `p_c` (`c_c = (4 + mu_eff/N) / (N + 4 + 2 mu_eff/N)`,
//!   `c_1 = 2 / ((N + 1.3)^2 + mu_eff)`, the `h_sigma` stall) and rank-mu update
//!   (`c_mu = min(1 - c_1, 2 (0.25 + mu_eff - 2 + 1/mu_eff) / ((N + 2)^2 + mu_eff))`);
//!   `c_sigma`'s `+ 3` (the tutorial has `+ 5`) and `c_mu`'s `0.25` are pycma 4.x's;
//! * the eigendecomposition `C = B D^2 B^T` is refreshed lazily, every
//!   `lambda / ((c_1 + c_mu) N 10)` generations (at least every generation for small N).
//!
//! pycma's default is *active* CMA (negative weights for the worst half); this one uses only
//! the positive weights, which is the tutorial's basic algorithm (pycma's `CMA_active=False`).
//!
//! **sep-CMA** (Ros & Hansen 2008): above [`SEPARABLE_ABOVE`] dimensions the covariance is kept
//! diagonal (`O(N)` memory and time per sample instead of `O(N^2)` and an `O(N^3)`
//! eigendecomposition), with `c_1` and `c_mu` scaled by `(N + 2) / 3` as the paper does. A
//! policy network's few thousand parameters take this path; [`CmaOptions::separable`] forces
//! either.

use crate::dist::standard_normal_f64;
use crate::error::NnError;
use rand::Rng;

/// Above this dimension the covariance is diagonal (sep-CMA) unless
/// [`CmaOptions::separable`] says otherwise. A full `N x N` covariance at N = 200 is 320 kB
/// and an eigendecomposition of a few milliseconds; beyond, both grow as `N^2` and `N^3`.
pub const SEPARABLE_ABOVE: usize = 200;

/// Options of a [`CmaEs`] (the defaults are pycma's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CmaOptions {
    /// `lambda`, candidates per generation (`None`: `4 + floor(3 ln N)`; at least 2).
    pub population: Option<usize>,
    /// Diagonal covariance (`None`: when N > [`SEPARABLE_ABOVE`]).
    pub separable: Option<bool>,
}

/// Everything that evolves from generation to generation: with the options and `N`, it
/// rebuilds the optimizer exactly ([`CmaEs::from_state`]), bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct CmaState {
    pub generation: u64,
    pub evaluations: u64,
    pub mean: Vec<f64>,
    pub sigma: f64,
    pub p_sigma: Vec<f64>,
    pub p_c: Vec<f64>,
    /// The covariance: `N x N` row-major, or its diagonal (`N`) for sep-CMA.
    pub cov: Vec<f64>,
    /// Eigenvectors `B` (columns, `N x N` row-major; empty for sep-CMA).
    pub eigenvectors: Vec<f64>,
    /// `D`: square roots of the eigenvalues (of the diagonal for sep-CMA).
    pub scales: Vec<f64>,
    /// The generation `B` and `D` were computed at.
    pub eigen_generation: u64,
}

/// The CMA-ES optimizer (minimises).
#[derive(Clone, Debug)]
pub struct CmaEs {
    n: usize,
    lambda: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    /// `E||N(0, I)||`.
    chi_n: f64,
    separable: bool,
    state: CmaState,
    /// The last [`CmaEs::ask`]: candidates `x_k` and their steps `y_k = (x_k - m) / sigma`,
    /// `[lambda * N]` each.
    candidates: Vec<f64>,
    steps: Vec<f64>,
    z: Vec<f64>,
}

impl CmaEs {
    /// Starts at `x0` with step size `sigma0` and identity covariance.
    pub fn new(x0: &[f64], sigma0: f64, options: &CmaOptions) -> Result<CmaEs, NnError> {
        let n = x0.len();
        let context = "CMA-ES";
        if n == 0 {
            return Err(NnError::config(
                context,
                "the search space needs at least one dimension",
            ));
        }
        if !(sigma0.is_finite() && sigma0 > 0.0) {
            return Err(NnError::config(
                context,
                format!("sigma0 must be a positive number, got {sigma0}"),
            ));
        }
        if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
            return Err(NnError::config(context, format!("x0[{i}] is {}", x0[i])));
        }
        let separable = options.separable.unwrap_or(n > SEPARABLE_ABOVE);
        let state = CmaState {
            generation: 0,
            evaluations: 0,
            mean: x0.to_vec(),
            sigma: sigma0,
            p_sigma: vec![0.0; n],
            p_c: vec![0.0; n],
            cov: if separable { vec![1.0; n] } else { identity(n) },
            eigenvectors: if separable { Vec::new() } else { identity(n) },
            scales: vec![1.0; n],
            eigen_generation: 0,
        };
        Self::with_state(n, options, separable, state)
    }

    /// Rebuilds an optimizer from a saved [`CmaEs::state`] (the same options).
    pub fn from_state(state: CmaState, options: &CmaOptions) -> Result<CmaEs, NnError> {
        let n = state.mean.len();
        let separable = options.separable.unwrap_or(n > SEPARABLE_ABOVE);
        let (cov_len, vec_len) = if separable { (n, 0) } else { (n * n, n * n) };
        if n == 0
            || state.p_sigma.len() != n
            || state.p_c.len() != n
            || state.scales.len() != n
            || state.cov.len() != cov_len
            || state.eigenvectors.len() != vec_len
        {
            return Err(NnError::shape(
                "CMA-ES state",
                format!(
                    "sizes do not match a {}-dimensional {} search",
                    n,
                    if separable { "separable" } else { "full" }
                ),
            ));
        }
        Self::with_state(n, options, separable, state)
    }

    fn with_state(
        n: usize,
        options: &CmaOptions,
        separable: bool,
        state: CmaState,
    ) -> Result<CmaEs, NnError> {
        let nf = n as f64;
        let lambda = options
            .population
            .unwrap_or(4 + (3.0 * nf.ln()).floor() as usize);
        if lambda < 2 {
            return Err(NnError::config(
                "CMA-ES",
                format!("the population must be at least 2, got {lambda}"),
            ));
        }
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 3.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let mut c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let mut c_mu = (2.0 * (0.25 + mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff))
            .min(1.0 - c_1);
        if separable {
            // Ros & Hansen 2008: a diagonal learns N parameters, not N^2 / 2, so faster.
            let speedup = (nf + 2.0) / 3.0;
            c_1 = (c_1 * speedup).min(1.0);
            c_mu = (c_mu * speedup).min(1.0 - c_1);
        }
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        Ok(CmaEs {
            n,
            lambda,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
            separable,
            state,
            candidates: vec![0.0; lambda * n],
            steps: vec![0.0; lambda * n],
            z: vec![0.0; n],
        })
    }

    pub fn dim(&self) -> usize {
        self.n
    }

    /// `lambda`, candidates per generation.
    pub fn population(&self) -> usize {
        self.lambda
    }

    pub fn is_separable(&self) -> bool {
        self.separable
    }

    /// The distribution's mean (the recommended point).
    pub fn mean(&self) -> &[f64] {
        &self.state.mean
    }

    pub fn sigma(&self) -> f64 {
        self.state.sigma
    }

    /// What [`CmaEs::from_state`] needs to continue exactly.
    pub fn state(&self) -> &CmaState {
        &self.state
    }

    /// Samples `lambda` candidates `x_k = m + sigma B D z_k`, `z_k ~ N(0, I)`: `[lambda * N]`,
    /// row `k` is candidate `k`.
    pub fn ask<R: Rng + ?Sized>(&mut self, rng: &mut R) -> &[f64] {
        let n = self.n;
        let st = &self.state;
        for k in 0..self.lambda {
            for z in self.z.iter_mut() {
                *z = standard_normal_f64(rng);
            }
            let y = &mut self.steps[k * n..(k + 1) * n];
            if self.separable {
                for ((y, z), d) in y.iter_mut().zip(&self.z).zip(&st.scales) {
                    *y = d * z;
                }
            } else {
                // y = B (D z)
                for (i, yi) in y.iter_mut().enumerate() {
                    let row = &st.eigenvectors[i * n..(i + 1) * n];
                    *yi = row
                        .iter()
                        .zip(&self.z)
                        .zip(&st.scales)
                        .map(|((b, z), d)| b * d * z)
                        .sum();
                }
            }
            let x = &mut self.candidates[k * n..(k + 1) * n];
            for ((x, m), y) in x.iter_mut().zip(&st.mean).zip(y.iter()) {
                *x = m + st.sigma * y;
            }
        }
        &self.candidates
    }

    /// The candidates of the last [`CmaEs::ask`].
    pub fn candidates(&self) -> &[f64] {
        &self.candidates
    }

    /// Updates the distribution from the last [`CmaEs::ask`]'s candidates' values
    /// (`fitness[k]` of candidate `k`; lower is better). A non-finite value ranks last.
    pub fn tell(&mut self, fitness: &[f64]) -> Result<(), NnError> {
        let (n, lambda) = (self.n, self.lambda);
        if fitness.len() != lambda {
            return Err(NnError::shape(
                "CMA-ES tell",
                format!("{} fitness values for {lambda} candidates", fitness.len()),
            ));
        }
        let mut order: Vec<usize> = (0..lambda).collect();
        let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
        // Stable: ties keep the sampling order, so a seed gives one result.
        order.sort_by(|&a, &b| key(fitness[a]).total_cmp(&key(fitness[b])));
        let st = &mut self.state;
        // Saturating: a state read from a damaged checkpoint must not overflow.
        st.generation = st.generation.saturating_add(1);
        st.evaluations = st.evaluations.saturating_add(lambda as u64);

        // <y>_w, and the new mean m + sigma <y>_w.
        let mut y_w = vec![0.0; n];
        for (w, &k) in self.weights.iter().zip(&order) {
            for (acc, y) in y_w.iter_mut().zip(&self.steps[k * n..(k + 1) * n]) {
                *acc += w * y;
            }
        }
        for (m, y) in st.mean.iter_mut().zip(&y_w) {
            *m += st.sigma * y;
        }

        // CSA: p_sigma += sqrt(c_s (2 - c_s) mu_eff) C^{-1/2} <y>_w, C^{-1/2} = B D^-1 B^T.
        let inv_sqrt_y = if self.separable {
            y_w.iter()
                .zip(&st.scales)
                .map(|(y, d)| y / d)
                .collect::<Vec<_>>()
        } else {
            let b = &st.eigenvectors;
            let mut t = vec![0.0; n]; // D^-1 B^T y
            for (j, tj) in t.iter_mut().enumerate() {
                let mut s = 0.0;
                for (i, y) in y_w.iter().enumerate() {
                    s += b[i * n + j] * y;
                }
                *tj = s / st.scales[j];
            }
            (0..n)
                .map(|i| {
                    b[i * n..(i + 1) * n]
                        .iter()
                        .zip(&t)
                        .map(|(b, t)| b * t)
                        .sum()
                })
                .collect()
        };
        let cs = self.c_sigma;
        let norm_s = (cs * (2.0 - cs) * self.mu_eff).sqrt();
        for (p, v) in st.p_sigma.iter_mut().zip(&inv_sqrt_y) {
            *p = (1.0 - cs) * *p + norm_s * v;
        }
        let ps_norm = st.p_sigma.iter().map(|v| v * v).sum::<f64>().sqrt();
        let decay = 1.0 - (1.0 - cs).powf(2.0 * st.generation as f64);
        let h_sigma = ps_norm / decay.sqrt() / self.chi_n < 1.4 + 2.0 / (self.n as f64 + 1.0);
        let cc = self.c_c;
        let norm_c = (cc * (2.0 - cc) * self.mu_eff).sqrt();
        let h = if h_sigma { 1.0 } else { 0.0 };
        for (p, y) in st.p_c.iter_mut().zip(&y_w) {
            *p = (1.0 - cc) * *p + h * norm_c * y;
        }

        // C = (1 - c_1 - c_mu + c_1 delta(h)) C + c_1 p_c p_c^T + c_mu sum w_i y_i y_i^T.
        let delta = (1.0 - h) * cc * (2.0 - cc);
        let keep = 1.0 - self.c_1 - self.c_mu + self.c_1 * delta;
        if self.separable {
            for (i, c) in st.cov.iter_mut().enumerate() {
                let mut rank_mu = 0.0;
                for (w, &k) in self.weights.iter().zip(&order) {
                    let y = self.steps[k * n + i];
                    rank_mu += w * y * y;
                }
                *c = keep * *c + self.c_1 * st.p_c[i] * st.p_c[i] + self.c_mu * rank_mu;
            }
        } else {
            for i in 0..n {
                for j in 0..=i {
                    let mut rank_mu = 0.0;
                    for (w, &k) in self.weights.iter().zip(&order) {
                        let y = &self.steps[k * n..(k + 1) * n];
                        rank_mu += w * y[i] * y[j];
                    }
                    let v = keep * st.cov[i * n + j]
                        + self.c_1 * st.p_c[i] * st.p_c[j]
                        + self.c_mu * rank_mu;
                    st.cov[i * n + j] = v;
                    st.cov[j * n + i] = v;
                }
            }
        }

        // sigma *= exp((c_s / d_s) (||p_sigma|| / E||N(0,I)|| - 1)).
        st.sigma *= ((cs / self.d_sigma) * (ps_norm / self.chi_n - 1.0)).exp();

        self.refresh_eigen(false)
    }

    /// Recomputes `B` and `D` from `C` when due (`force`: now).
    fn refresh_eigen(&mut self, force: bool) -> Result<(), NnError> {
        let st = &mut self.state;
        if self.separable {
            for (d, c) in st.scales.iter_mut().zip(&st.cov) {
                *d = c.max(0.0).sqrt();
            }
            st.eigen_generation = st.generation;
            return Ok(());
        }
        let gap = self.lambda as f64 / ((self.c_1 + self.c_mu) * self.n as f64 * 10.0);
        if !force && (st.generation.saturating_sub(st.eigen_generation) as f64) < gap {
            return Ok(());
        }
        let (values, vectors) = symmetric_eigen(&st.cov, self.n);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(NnError::config(
                "CMA-ES",
                "the covariance matrix became non-finite",
            ));
        }
        // Tiny negative eigenvalues are rounding: floor them just above zero.
        let floor = values.iter().cloned().fold(0.0, f64::max) * 1e-20;
        st.scales = values.iter().map(|v| v.max(floor).sqrt()).collect();
        st.eigenvectors = vectors;
        st.eigen_generation = st.generation;
        Ok(())
    }

    /// The ratio of the largest to the smallest axis of the distribution (`max D / min D`).
    pub fn axis_ratio(&self) -> f64 {
        let d = &self.state.scales;
        let max = d.iter().cloned().fold(f64::MIN, f64::max);
        let min = d.iter().cloned().fold(f64::MAX, f64::min);
        max / min
    }
}

/// When [`minimize`] stops.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// Stop once a value below this is found.
    pub target: f64,
    pub max_evaluations: u64,
    /// Stop when `sigma * max D` falls below this (pycma's `tolx`).
    pub tol_x: f64,
}

impl Default for Stop {
    fn default() -> Stop {
        Stop {
            target: f64::NEG_INFINITY,
            max_evaluations: 1_000_000,
            tol_x: 1e-11,
        }
    }
}

/// What [`minimize`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The best point evaluated, and its value.
    pub x: Vec<f64>,
    pub value: f64,
    pub evaluations: u64,
    pub generations: u64,
}

/// Minimises `f` from `x0` with step size `sigma0`, until a [`Stop`] criterion holds.
pub fn minimize<F, R>(
    f: F,
    x0: &[f64],
    sigma0: f64,
    options: &CmaOptions,
    stop: &Stop,
    rng: &mut R,
) -> Result<Minimum, NnError>
where
    F: Fn(&[f64]) -> f64,
    R: Rng + ?Sized,
{
    let mut es = CmaEs::new(x0, sigma0, options)?;
    let n = es.dim();
    let mut best = Minimum {
        x: x0.to_vec(),
        value: f64::INFINITY,
        evaluations: 0,
        generations: 0,
    };
    let mut fitness = vec![0.0; es.population()];
    loop {
        let candidates = es.ask(rng);
        for (k, v) in fitness.iter_mut().enumerate() {
            let x = &candidates[k * n..(k + 1) * n];
            *v = f(x);
            if *v < best.value {
                best.value = *v;
                best.x.copy_from_slice(x);
            }
        }
        es.tell(&fitness)?;
        best.evaluations = es.state.evaluations;
        best.generations = es.state.generation;
        let max_d = es.state.scales.iter().cloned().fold(0.0, f64::max);
        if best.value < stop.target
            || best.evaluations >= stop.max_evaluations
            || es.state.sigma * max_d < stop.tol_x
        {
            return Ok(best);
        }
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Eigenvalues and eigenvectors (columns of the row-major `N x N` result) of the symmetric
/// row-major `a`, by cyclic Jacobi rotations: slower than Householder + QL, but simple and
/// accurate to rounding, and CMA-ES calls it only every few generations.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = identity(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum();
        if off <= 1e-30 * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A <- J^T A J on rows/columns p and q.
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sphere(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum()
    }

    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    fn run(f: fn(&[f64]) -> f64, n: usize, x0: f64, separable: bool, seed: u64) -> Minimum {
        let stop = Stop {
            target: 1e-8,
            max_evaluations: 100_000,
            ..Stop::default()
        };
        let options = CmaOptions {
            separable: Some(separable),
            ..CmaOptions::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        minimize(f, &vec![x0; n], 0.5, &options, &stop, &mut rng).unwrap()
    }

    #[test]
    fn pycma_defaults() {
        let es = CmaEs::new(&[0.0; 10], 1.0, &CmaOptions::default()).unwrap();
        // pycma 4.5 for N = 10 (CMA_active=False): popsize 10, mu 5, mueff 3.16730, cs 0.31961,
        // damps 1.31961, cc 0.29499, c1 0.0152838, cmu 0.0235518.
        assert_eq!(es.population(), 10);
        assert_eq!(es.weights.len(), 5);
        assert!((es.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-5 * b;
        assert!(close(es.mu_eff, 3.167_299_3), "{}", es.mu_eff);
        assert!(close(es.c_sigma, 0.319_614_2), "{}", es.c_sigma);
        assert!(close(es.d_sigma, 1.319_614_2), "{}", es.d_sigma);
        assert!(close(es.c_c, 0.294_990_4), "{}", es.c_c);
        assert!(close(es.c_1, 0.015_283_82), "{}", es.c_1);
        assert!(close(es.c_mu, 0.023_551_78), "{}", es.c_mu);
        assert!(!es.is_separable());
        assert!(CmaEs::new(&vec![0.0; 201], 1.0, &CmaOptions::default())
            .unwrap()
            .is_separable());
    }

    #[test]
    fn jacobi_diagonalises_a_known_matrix() {
        // [[2, 1], [1, 2]]: eigenvalues 1 and 3.
        let (mut values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        let v0 = [vectors[0], vectors[2]];
        assert!((v0[0].abs() - v0[1].abs()).abs() < 1e-12);
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
        // B D^2 B^T rebuilds a random SPD matrix.
        let n = 6;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let g: Vec<f64> = (0..n * n).map(|_| standard_normal_f64(&mut rng)).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| g[i * n + k] * g[j * n + k]).sum();
            }
        }
        let (values, b) = symmetric_eigen(&a, n);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n)
                    .map(|k| b[i * n + k] * values[k] * b[j * n + k])
                    .sum();
                assert!((r - a[i * n + j]).abs() < 1e-9, "{r} vs {}", a[i * n + j]);
            }
        }
    }

    // Evaluation counts to f < 1e-8 from x0 = 0.1 * ones (sphere) / zeros (Rosenbrock),
    // sigma0 = 0.5; pycma 4.x's medians on the same setup are in BENCHMARKS.md ("CMA-ES
    // against pycma"): sphere-10 about 1,500, Rosenbrock-10 about 6,000-7,000.
    #[test]
    fn sphere_10d_in_pycma_like_evaluations() {
        for seed in 0..3 {
            let m = run(sphere, 10, 0.1, false, seed);
            assert!(m.value < 1e-8, "seed {seed}: {m:?}");
            assert!(
                (800..2_500).contains(&m.evaluations),
                "seed {seed}: {}",
                m.evaluations
            );
        }
    }

    #[test]
    fn rosenbrock_10d_in_pycma_like_evaluations() {
        for seed in 0..3 {
            let m = run(rosenbrock, 10, 0.0, false, seed);
            assert!(m.value < 1e-8, "seed {seed}: {m:?}");
            assert!(
                (3_000..12_000).contains(&m.evaluations),
                "seed {seed}: {}",
                m.evaluations
            );
            assert!(m.x.iter().all(|v| (v - 1.0).abs() < 1e-3));
        }
    }

    #[test]
    fn separable_solves_a_high_dimensional_sphere() {
        let m = run(sphere, 100, 0.1, true, 1);
        assert!(m.value < 1e-8, "{m:?}");
    }

    #[test]
    fn state_round_trip_continues_exactly() {
        for separable in [false, true] {
            let options = CmaOptions {
                separable: Some(separable),
                ..CmaOptions::default()
            };
            let mut a = CmaEs::new(&[0.3; 5], 0.5, &options).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let step = |es: &mut CmaEs, rng: &mut ChaCha8Rng| {
                let n = es.dim();
                let c = es.ask(rng).to_vec();
                let f: Vec<f64> = c.chunks(n).map(rosenbrock).collect();
                es.tell(&f).unwrap();
            };
            for _ in 0..7 {
                step(&mut a, &mut rng);
            }
            let mut b = CmaEs::from_state(a.state().clone(), &options).unwrap();
            let mut rng_b = rng.clone();
            for _ in 0..20 {
                step(&mut a, &mut rng);
                step(&mut b, &mut rng_b);
            }
            assert_eq!(a.state(), b.state());
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let o = CmaOptions::default();
        assert!(CmaEs::new(&[], 1.0, &o).is_err());
        assert!(CmaEs::new(&[0.0], 0.0, &o).is_err());
        assert!(CmaEs::new(&[0.0], f64::NAN, &o).is_err());
        let one = CmaOptions {
            population: Some(1),
            ..o.clone()
        };
        let err = CmaEs::new(&[0.0, 0.0], 1.0, &one).unwrap_err().to_string();
        assert!(err.contains("at least 2"), "{err}");
        let mut es = CmaEs::new(&[0.0, 0.0], 1.0, &o).unwrap();
        assert!(es.tell(&[1.0]).is_err());
    }
}
