//! The few numerical kernels every layer is built from.
//!
//! * Batched products go through the `matrixmultiply` crate ([`gemm`]): it packs its inputs into
//!   cache-friendly panels, which pays off as soon as there is more than one row.
//! * Except for the per-step recurrent products of small `W_hh` at batch > 1, where packing
//!   `W_hh` on every step dominated: [`gemm_nt`] takes dot products against the rows as stored.
//! * At batch 1 the packing dominates (2.5x slower than a plain loop), so matrix-vector products
//!   ([`gemv`], [`gemv_t`]) and the rank-1 update ([`ger`]) have their own AVX2/FMA kernels.
//! * `tanh` and `sigmoid` use a rational approximation instead of libm (libm's `tanhf`/`expf`
//!   were a third of an LSTM update): branch-free, so it vectorises, with a tested error bound.
//!
//! The CPU is inspected once ([`simd_level`]); every kernel has a portable fallback that runs
//! on any CPU, and setting `ENGRAM_SIMD=portable` forces it (to compare paths end to end).
//! Everything runs on the calling thread and allocates nothing.

use std::sync::atomic::{AtomicU8, Ordering};

/// Which instruction set the kernels use on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// Plain Rust; the compiler vectorises what it can for the baseline target.
    Portable,
    /// x86-64 with AVX2 and FMA, detected at run time.
    Avx2Fma,
}

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The instruction set in use, detected on first call and cached (one relaxed load after that).
#[inline]
pub fn simd_level() -> SimdLevel {
    match LEVEL.load(Ordering::Relaxed) {
        1 => SimdLevel::Portable,
        2 => SimdLevel::Avx2Fma,
        _ => detect(),
    }
}

#[cold]
fn detect() -> SimdLevel {
    let forced_portable = std::env::var("ENGRAM_SIMD").is_ok_and(|v| v == "portable");
    let level = if !forced_portable && cpu_has_avx2_fma() {
        SimdLevel::Avx2Fma
    } else {
        SimdLevel::Portable
    };
    LEVEL.store(
        if level == SimdLevel::Avx2Fma { 2 } else { 1 },
        Ordering::Relaxed,
    );
    level
}

/// Whether this CPU can run the AVX2/FMA kernels (whatever `ENGRAM_SIMD` says).
pub fn cpu_has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------------------------

/// Whether an operand of [`gemm`] is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    No,
    Yes,
}

/// Elements a row-major `rows x cols` matrix with row stride `ld` spans.
fn span(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        // Saturating: shapes whose extent overflows can never fit a slice, and the length
        // asserts must refuse them rather than wrap around and let the kernel write out of
        // bounds.
        (rows - 1).saturating_mul(ld).saturating_add(cols)
    }
}

/// `rows * cols`, saturating (see [`span`]).
fn area(rows: usize, cols: usize) -> usize {
    rows.saturating_mul(cols)
}

/// `C = alpha * op(A) * op(B) + beta * C`, all row-major, `op(A)` is `m x k`, `op(B)` is
/// `k x n`, `C` is `m x n`. `lda`, `ldb`, `ldc` are the row strides of the matrices *as stored*
/// (so a transposed `A` is stored `k x m`). With `beta == 0` the old `C` is not read.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let (a_rows, a_cols, rsa, csa) = match ta {
        Trans::No => (m, k, lda, 1),
        Trans::Yes => (k, m, 1, lda),
    };
    let (b_rows, b_cols, rsb, csb) = match tb {
        Trans::No => (k, n, ldb, 1),
        Trans::Yes => (n, k, 1, ldb),
    };
    let (a_ld_ok, b_ld_ok) = match (ta, tb) {
        (Trans::No, Trans::No) => (lda >= k, ldb >= n),
        (Trans::No, Trans::Yes) => (lda >= k, ldb >= k),
        (Trans::Yes, Trans::No) => (lda >= m, ldb >= n),
        (Trans::Yes, Trans::Yes) => (lda >= m, ldb >= k),
    };
    assert!(
        a_ld_ok && b_ld_ok && ldc >= n,
        "gemm: leading dimension too small"
    );
    let stored_a = match ta {
        Trans::No => span(a_rows, a_cols, lda),
        Trans::Yes => span(a_rows, a_cols, lda),
    };
    let stored_b = span(b_rows, b_cols, ldb);
    assert!(
        a.len() >= stored_a,
        "gemm: A has {} < {stored_a} elements",
        a.len()
    );
    assert!(
        b.len() >= stored_b,
        "gemm: B has {} < {stored_b} elements",
        b.len()
    );
    assert!(
        c.len() >= span(m, n, ldc),
        "gemm: C has {} < {} elements",
        c.len(),
        span(m, n, ldc)
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if beta == 0.0 {
                row.fill(0.0);
            } else {
                row.iter_mut().for_each(|v| *v *= beta);
            }
        }
        return;
    }
    // SAFETY: the asserts above guarantee that every element addressed through the strides lies
    // inside the slices; `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Matrix-vector products
// ---------------------------------------------------------------------------------------------

/// `y = W x` (or `y += W x` with `accumulate`), `W` row-major `rows x cols`.
#[inline]
pub fn gemv(w: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32], accumulate: bool) {
    assert!(
        w.len() >= area(rows, cols) && x.len() >= cols && y.len() >= rows,
        "gemv: W {}x{} needs w >= {}, x >= {cols}, y >= {rows} (got {}, {}, {})",
        rows,
        cols,
        area(rows, cols),
        w.len(),
        x.len(),
        y.len()
    );
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA were detected; lengths checked above.
        SimdLevel::Avx2Fma => unsafe { avx2::gemv(w, rows, cols, x, y, accumulate) },
        _ => portable::gemv(w, rows, cols, x, y, accumulate),
    }
}

/// `y = W^T x` (or `y += W^T x` with `accumulate`), `W` row-major `rows x cols`, so `x` has
/// `rows` elements and `y` has `cols`.
#[inline]
pub fn gemv_t(w: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32], accumulate: bool) {
    assert!(
        w.len() >= area(rows, cols) && x.len() >= rows && y.len() >= cols,
        "gemv_t: W {rows}x{cols} needs x >= {rows}, y >= {cols}"
    );
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA were detected; lengths checked above.
        SimdLevel::Avx2Fma => unsafe { avx2::gemv_t(w, rows, cols, x, y, accumulate) },
        _ => portable::gemv_t(w, rows, cols, x, y, accumulate),
    }
}

/// Rank-1 update `A += alpha * x y^T`, `A` row-major `x.len() x y.len()`.
#[inline]
pub fn ger(alpha: f32, x: &[f32], y: &[f32], a: &mut [f32]) {
    assert!(
        a.len() >= area(x.len(), y.len()),
        "ger: A has {} < {} elements",
        a.len(),
        area(x.len(), y.len())
    );
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA were detected; lengths checked above.
        SimdLevel::Avx2Fma => unsafe { avx2::ger(alpha, x, y, a) },
        _ => portable::ger(alpha, x, y, a),
    }
}

// ---------------------------------------------------------------------------------------------
// Small products against a row-major weight matrix (the recurrent products at batch > 1)
// ---------------------------------------------------------------------------------------------

/// Whether a layer's batched forward multiplies by its `[out, in]` weight as it lies
/// ([`gemm_nt`]) rather than through [`gemm`], which packs both operands on every call and reads
/// a transposed weight column by column to do it. The packing costs about `(m + n) k` against
/// the product's `m n k`, so it is dearest for narrow outputs and for wide inputs at the modest
/// batches reinforcement learning trains with. Measured (`cargo run --release -p engram-nn
/// --example linear_kernels`, BENCHMARKS §16): with 64 inputs `gemm_nt` is 1.3-5x faster at 1
/// to 16 outputs for batches of 64 to 1024 (Zen 1; from 64 outputs the packed product won
/// there); a 1024 -> 128 layer (MinAtar's) at batch 32 takes 91 us as stored against 220 us
/// packed (Zen 4), 3136 -> 512 (the Nature CNN's) at batch 32 1.2 ms against 2.0 ms. Decided
/// by the layer's shape only, never the batch, so a row's output has the same bits in an acting
/// batch of two or more rows and in a training minibatch (a single row takes [`gemv`], which
/// sums in another order).
#[inline]
pub fn weight_as_stored_pays_off(n_out: usize, n_in: usize) -> bool {
    n_out <= 16 || n_in >= 4 * n_out
}

/// `C += A W^T` for contiguous `A` `m x k`, a weight `W` stored `[n, k]` (PyTorch's
/// `[out, in]`) and `C` `m x n`: through [`gemm_nt`] (the weight as it lies) when
/// `weight_as_stored`, else through the packing [`gemm`]. Layers decide once, from their shape
/// alone, so a row's bits do not depend on which batch of two or more rows it is computed in
/// (checked for both paths by PPO's acting-versus-training test).
#[allow(clippy::too_many_arguments)]
pub fn add_times_weight_t(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    w: &[f32],
    c: &mut [f32],
    weight_as_stored: bool,
) {
    if weight_as_stored {
        gemm_nt(m, n, k, a, k, w, k, c, n, true);
    } else {
        gemm(Trans::No, Trans::Yes, m, n, k, 1.0, a, k, w, k, 1.0, c, n);
    }
}

/// `C = A B^T` (or `C += A B^T` with `accumulate`): `A` row-major `m x k` (row stride `lda`),
/// `B` row-major `n x k` (row stride `ldb`), `C` row-major `m x n` (row stride `ldc`).
///
/// Every output is a dot product of two contiguous rows, so a weight matrix stored `[out, in]`
/// is used as it lies: unlike [`gemm`] nothing is packed or allocated per call, which is what
/// the per-step recurrent products (a few rows against a small `W_hh`) need. Each element is
/// computed by the same instruction sequence wherever it sits in `C` and whatever `m` and `n`
/// are, so a row's result does not depend on the batch it is computed in (acting one step at a
/// time on two or more rows reproduces a sequence pass bit for bit; a single row goes through
/// the matrix-vector kernels, which sum in another order).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(
        lda >= k && ldb >= k && ldc >= n,
        "gemm_nt: leading dimension too small (lda {lda}, ldb {ldb} need >= k {k}; ldc {ldc} needs >= n {n})"
    );
    assert!(
        a.len() >= span(m, k, lda) && b.len() >= span(n, k, ldb) && c.len() >= span(m, n, ldc),
        "gemm_nt: A ({}), B ({}) or C ({}) shorter than {m}x{k}, {n}x{k}, {m}x{n}",
        a.len(),
        b.len(),
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA were detected; lengths checked above.
        SimdLevel::Avx2Fma => unsafe { avx2::gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate) },
        _ => portable::gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate),
    }
}

/// `dst = src^T`: `src` row-major `rows x cols`, `dst` row-major `cols x rows`. Used once per
/// backward pass so that the per-step `dh = dgates W_hh` can run on [`gemm_nt`].
pub fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    assert!(
        src.len() >= area(rows, cols) && dst.len() >= area(rows, cols),
        "transpose: {rows}x{cols} needs {} elements in src ({}) and dst ({})",
        area(rows, cols),
        src.len(),
        dst.len()
    );
    // 16 x 16 tiles keep both the reads and the writes within a few cache lines.
    const TILE: usize = 16;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fast tanh / sigmoid and other element-wise kernels
// ---------------------------------------------------------------------------------------------

/// Beyond this |x| the rational approximation is clamped; `tanh(7.9053)` rounds to 1 in f32.
pub(crate) use crate::__multiversion as multiversion;

/// Beyond this |x| the rational approximation is clamped; `tanh(7.9053)` rounds to 1 in f32.
const TANH_CLAMP: f32 = 7.905_311;
// Odd numerator and even denominator of a [13/6] minimax rational approximation of tanh
// (the coefficients used by Eigen's `generic_fast_tanh_float`).
const TANH_A: [f32; 7] = [
    4.893_524_6e-3,
    6.372_619_3e-4,
    1.485_722_4e-5,
    5.122_297e-8,
    -8.604_672e-11,
    2.000_188e-13,
    -2.760_768_5e-16,
];
const TANH_B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347e-4, 1.198_258_4e-6];

/// Fast `tanh`: absolute **and** relative error below `1e-6` for every finite `x` (measured
/// maximum about `4e-7`; tested on a dense grid over `[-20, 20]` and at `±1e30`, `±inf`).
/// NaN in gives NaN out. Branch-free, so loops over it vectorise.
#[inline(always)]
pub fn tanh_approx(x: f32) -> f32 {
    // `max`/`min` written as selects so they map onto vector min/max instructions.
    let x = if x > TANH_CLAMP { TANH_CLAMP } else { x };
    let x = if x < -TANH_CLAMP { -TANH_CLAMP } else { x };
    let x2 = x * x;
    let mut p = TANH_A[6];
    p = p * x2 + TANH_A[5];
    p = p * x2 + TANH_A[4];
    p = p * x2 + TANH_A[3];
    p = p * x2 + TANH_A[2];
    p = p * x2 + TANH_A[1];
    p = p * x2 + TANH_A[0];
    p *= x;
    let mut q = TANH_B[3];
    q = q * x2 + TANH_B[2];
    q = q * x2 + TANH_B[1];
    q = q * x2 + TANH_B[0];
    p / q
}

/// Fast logistic sigmoid `1 / (1 + e^-x) = (1 + tanh(x/2)) / 2`: absolute error below `1e-6`
/// for every finite `x` (the relative error grows where the result underflows towards 0, far
/// below anything a gate can resolve).
#[inline(always)]
pub fn sigmoid_approx(x: f32) -> f32 {
    0.5 * tanh_approx(0.5 * x) + 0.5
}

/// Defines a public element-wise kernel once, compiled twice: a portable version and an
/// AVX2/FMA version (the same loop, auto-vectorised for 8 lanes), dispatched at run time.
#[doc(hidden)]
#[macro_export]
macro_rules! __multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2($($arg: $ty),*) { body($($arg),*) }
            match $crate::kernels::simd_level() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 and FMA were detected.
                $crate::kernels::SimdLevel::Avx2Fma => unsafe { avx2($($arg),*) },
                _ => body($($arg),*),
            }
        }
    };
}

__multiversion! {
    /// `x = tanh(x)` in place (see [`tanh_approx`] for the error bound).
    pub fn tanh_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = tanh_approx(*v);
        }
    }
}

__multiversion! {
    /// `x = sigmoid(x)` in place (see [`sigmoid_approx`] for the error bound).
    pub fn sigmoid_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = sigmoid_approx(*v);
        }
    }
}

/// Scalar references used by the tests to check the dispatched kernels on every path.
pub mod portable {
    pub fn tanh_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = super::tanh_approx(*v);
        }
    }

    pub fn sigmoid_inplace(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = super::sigmoid_approx(*v);
        }
    }

    pub fn gemv(w: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32], accumulate: bool) {
        let x = &x[..cols];
        for (r, out) in y[..rows].iter_mut().enumerate() {
            let row = &w[r * cols..(r + 1) * cols];
            // Eight partial sums: lets the compiler vectorise without reassociating.
            let mut acc = [0.0f32; 8];
            let chunks = cols / 8 * 8;
            for (wc, xc) in row[..chunks]
                .chunks_exact(8)
                .zip(x[..chunks].chunks_exact(8))
            {
                for l in 0..8 {
                    acc[l] += wc[l] * xc[l];
                }
            }
            let mut s: f32 = acc.iter().sum();
            for c in chunks..cols {
                s += row[c] * x[c];
            }
            *out = if accumulate { *out + s } else { s };
        }
    }

    pub fn gemv_t(w: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32], accumulate: bool) {
        let y = &mut y[..cols];
        if !accumulate {
            y.fill(0.0);
        }
        for (r, &xr) in x[..rows].iter().enumerate() {
            let row = &w[r * cols..(r + 1) * cols];
            for (yc, &wc) in y.iter_mut().zip(row) {
                *yc += xr * wc;
            }
        }
    }

    /// Same per-element arithmetic on every position: eight lane sums over `k` (lane `q` takes
    /// the elements `q, q + 8, ...`), folded pairwise as the AVX2 kernel's `hadd` tree does.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_nt(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        let k8 = k / 8 * 8;
        if k == 0 {
            super::gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        for i in 0..m {
            let ar = &a[i * lda..i * lda + k];
            for j in 0..n {
                let br = &b[j * ldb..j * ldb + k];
                let mut l = [0.0f32; 8];
                for (ac, bc) in ar[..k8].chunks_exact(8).zip(br[..k8].chunks_exact(8)) {
                    for q in 0..8 {
                        l[q] += ac[q] * bc[q];
                    }
                }
                for q in 0..k - k8 {
                    l[q] += ar[k8 + q] * br[k8 + q];
                }
                let s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
                let out = &mut c[i * ldc + j];
                *out = if accumulate { *out + s } else { s };
            }
        }
    }

    pub fn ger(alpha: f32, x: &[f32], y: &[f32], a: &mut [f32]) {
        let n = y.len();
        for (i, &xi) in x.iter().enumerate() {
            let s = alpha * xi;
            for (aij, &yj) in a[i * n..(i + 1) * n].iter_mut().zip(y) {
                *aij += s * yj;
            }
        }
    }
}

/// Hand-written AVX2/FMA kernels. Callers check the CPU features and slice lengths.
#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// `y (+)= W x`, four rows at a time with two accumulators each (eight FMA chains).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `w >= rows*cols`, `x >= cols`, `y >= rows`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemv(
        w: &[f32],
        rows: usize,
        cols: usize,
        x: &[f32],
        y: &mut [f32],
        accumulate: bool,
    ) {
        debug_assert!(w.len() >= rows * cols && x.len() >= cols && y.len() >= rows);
        let wp = w.as_ptr();
        let xp = x.as_ptr();
        let c16 = cols / 16 * 16;
        let c8 = cols / 8 * 8;
        let mut r = 0;
        while r + 4 <= rows {
            let w0 = wp.add(r * cols);
            let w1 = w0.add(cols);
            let w2 = w1.add(cols);
            let w3 = w2.add(cols);
            let mut a0 = _mm256_setzero_ps();
            let mut a1 = _mm256_setzero_ps();
            let mut a2 = _mm256_setzero_ps();
            let mut a3 = _mm256_setzero_ps();
            let mut b0 = _mm256_setzero_ps();
            let mut b1 = _mm256_setzero_ps();
            let mut b2 = _mm256_setzero_ps();
            let mut b3 = _mm256_setzero_ps();
            let mut c = 0;
            while c < c16 {
                let xa = _mm256_loadu_ps(xp.add(c));
                let xb = _mm256_loadu_ps(xp.add(c + 8));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(c)), xa, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(c)), xa, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2.add(c)), xa, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3.add(c)), xa, a3);
                b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(c + 8)), xb, b0);
                b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(c + 8)), xb, b1);
                b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2.add(c + 8)), xb, b2);
                b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3.add(c + 8)), xb, b3);
                c += 16;
            }
            while c < c8 {
                let xa = _mm256_loadu_ps(xp.add(c));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(c)), xa, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(c)), xa, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2.add(c)), xa, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3.add(c)), xa, a3);
                c += 8;
            }
            let mut s = [
                hsum(_mm256_add_ps(a0, b0)),
                hsum(_mm256_add_ps(a1, b1)),
                hsum(_mm256_add_ps(a2, b2)),
                hsum(_mm256_add_ps(a3, b3)),
            ];
            while c < cols {
                let xc = *xp.add(c);
                s[0] += *w0.add(c) * xc;
                s[1] += *w1.add(c) * xc;
                s[2] += *w2.add(c) * xc;
                s[3] += *w3.add(c) * xc;
                c += 1;
            }
            for (l, sl) in s.iter().enumerate() {
                let out = y.get_unchecked_mut(r + l);
                *out = if accumulate { *out + sl } else { *sl };
            }
            r += 4;
        }
        while r < rows {
            let w0 = wp.add(r * cols);
            let mut a0 = _mm256_setzero_ps();
            let mut c = 0;
            while c < c8 {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(c)), _mm256_loadu_ps(xp.add(c)), a0);
                c += 8;
            }
            let mut s = hsum(a0);
            while c < cols {
                s += *w0.add(c) * *xp.add(c);
                c += 1;
            }
            let out = y.get_unchecked_mut(r);
            *out = if accumulate { *out + s } else { s };
            r += 1;
        }
    }

    #[allow(clippy::needless_range_loop)]
    /// `y (+)= W^T x`: for blocks of 32 output columns held in registers, sweep the rows two at
    /// a time (eight independent FMA chains), then 8-wide blocks, then a scalar tail.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `w >= rows*cols`, `x >= rows`, `y >= cols`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemv_t(
        w: &[f32],
        rows: usize,
        cols: usize,
        x: &[f32],
        y: &mut [f32],
        accumulate: bool,
    ) {
        debug_assert!(w.len() >= rows * cols && x.len() >= rows && y.len() >= cols);
        let wp = w.as_ptr();
        let xp = x.as_ptr();
        let yp = y.as_mut_ptr();
        let rows2 = rows / 2 * 2;
        let mut c = 0;
        while c + 32 <= cols {
            let mut a = [_mm256_setzero_ps(); 4];
            let mut b = [_mm256_setzero_ps(); 4];
            let mut r = 0;
            while r < rows2 {
                let x0 = _mm256_set1_ps(*xp.add(r));
                let x1 = _mm256_set1_ps(*xp.add(r + 1));
                let w0 = wp.add(r * cols + c);
                let w1 = w0.add(cols);
                for l in 0..4 {
                    a[l] = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(8 * l)), x0, a[l]);
                    b[l] = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(8 * l)), x1, b[l]);
                }
                r += 2;
            }
            if r < rows {
                let x0 = _mm256_set1_ps(*xp.add(r));
                let w0 = wp.add(r * cols + c);
                for l in 0..4 {
                    a[l] = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(8 * l)), x0, a[l]);
                }
            }
            for l in 0..4 {
                let mut s = _mm256_add_ps(a[l], b[l]);
                if accumulate {
                    s = _mm256_add_ps(s, _mm256_loadu_ps(yp.add(c + 8 * l)));
                }
                _mm256_storeu_ps(yp.add(c + 8 * l), s);
            }
            c += 32;
        }
        while c + 8 <= cols {
            let mut a = _mm256_setzero_ps();
            let mut b = _mm256_setzero_ps();
            let mut r = 0;
            while r < rows2 {
                let w0 = wp.add(r * cols + c);
                a = _mm256_fmadd_ps(_mm256_loadu_ps(w0), _mm256_set1_ps(*xp.add(r)), a);
                b = _mm256_fmadd_ps(
                    _mm256_loadu_ps(w0.add(cols)),
                    _mm256_set1_ps(*xp.add(r + 1)),
                    b,
                );
                r += 2;
            }
            if r < rows {
                let w0 = wp.add(r * cols + c);
                a = _mm256_fmadd_ps(_mm256_loadu_ps(w0), _mm256_set1_ps(*xp.add(r)), a);
            }
            let mut s = _mm256_add_ps(a, b);
            if accumulate {
                s = _mm256_add_ps(s, _mm256_loadu_ps(yp.add(c)));
            }
            _mm256_storeu_ps(yp.add(c), s);
            c += 8;
        }
        while c < cols {
            let mut s = 0.0;
            for r in 0..rows {
                s += *wp.add(r * cols + c) * *xp.add(r);
            }
            *yp.add(c) = if accumulate { *yp.add(c) + s } else { s };
            c += 1;
        }
    }

    /// Rows of `A` per register block of [`gemm_nt`].
    const NT_ROWS: usize = 3;
    /// Rows of `B` (columns of `C`) per register block: 3 x 4 accumulators + 4 `B` vectors.
    const NT_COLS: usize = 4;
    /// Bytes of `B` kept in L1 while all rows of `A` pass by.
    const NT_TILE_BYTES: usize = 16 * 1024;
    /// Longest stretch of `k` summed in one sweep (longer rows are split).
    const NT_DEPTH: usize = 256;

    /// `C (+)= A B^T` with dot products of contiguous rows: 3 x 4 outputs per register block,
    /// each an 8-lane FMA chain over `k` (a masked load for the last `k % 8`), folded by an
    /// `hadd` tree. Blocks at the edges repeat the last valid row and discard the surplus, so
    /// every element goes through the same instructions. `B` is walked in tiles of about 16 KiB
    /// that stay in L1 while every row of `A` is multiplied against them.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; the slices must hold the strided matrices (as checked
    /// by [`super::gemm_nt`]).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemm_nt(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        if k == 0 {
            super::gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        debug_assert!(m >= 1 && n >= 1);
        if k > NT_DEPTH {
            // Long rows: sum `NT_DEPTH`-long slices into `C` one after the other, so that the
            // tile of `B` and the rows of `A` it meets stay in cache.
            let mut p0 = 0;
            while p0 < k {
                let depth = (k - p0).min(NT_DEPTH);
                gemm_nt(
                    m,
                    n,
                    depth,
                    &a[p0..],
                    lda,
                    &b[p0..],
                    ldb,
                    c,
                    ldc,
                    accumulate || p0 > 0,
                );
                p0 += depth;
            }
            return;
        }
        let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let k8 = k / 8 * 8;
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((k - k8) as i32), lanes);
        let tile = (NT_TILE_BYTES / 4 / k.max(1)).max(NT_COLS) / NT_COLS * NT_COLS;
        let mut j0 = 0;
        while j0 < n {
            let j1 = (j0 + tile).min(n);
            let mut i = 0;
            while i < m {
                let rows = (m - i).min(NT_ROWS);
                let a_rows: [*const f32; NT_ROWS] =
                    std::array::from_fn(|r| ap.add((i + r.min(rows - 1)) * lda));
                let mut j = j0;
                while j < j1 {
                    let cols = (j1 - j).min(NT_COLS);
                    let b_rows: [*const f32; NT_COLS] =
                        std::array::from_fn(|q| bp.add((j + q.min(cols - 1)) * ldb));
                    nt_block(
                        a_rows,
                        b_rows,
                        k8,
                        k > k8,
                        tail_mask,
                        cp.add(i * ldc + j),
                        ldc,
                        rows,
                        cols,
                        accumulate,
                    );
                    j += cols;
                }
                i += rows;
            }
            j0 = j1;
        }
    }

    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn nt_block(
        a_rows: [*const f32; NT_ROWS],
        b_rows: [*const f32; NT_COLS],
        k8: usize,
        has_tail: bool,
        tail_mask: __m256i,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); NT_COLS]; NT_ROWS];
        let mut p = 0;
        // 12 accumulators + 3 vectors of `A` + 1 of `B`: all 16 registers, no spills.
        while p < k8 {
            let av: [__m256; NT_ROWS] = std::array::from_fn(|r| _mm256_loadu_ps(a_rows[r].add(p)));
            for q in 0..NT_COLS {
                let bv = _mm256_loadu_ps(b_rows[q].add(p));
                for r in 0..NT_ROWS {
                    acc[r][q] = _mm256_fmadd_ps(av[r], bv, acc[r][q]);
                }
            }
            p += 8;
        }
        if has_tail {
            let av: [__m256; NT_ROWS] =
                std::array::from_fn(|r| _mm256_maskload_ps(a_rows[r].add(p), tail_mask));
            for q in 0..NT_COLS {
                let bv = _mm256_maskload_ps(b_rows[q].add(p), tail_mask);
                for r in 0..NT_ROWS {
                    acc[r][q] = _mm256_fmadd_ps(av[r], bv, acc[r][q]);
                }
            }
        }
        for r in 0..rows {
            let h01 = _mm256_hadd_ps(acc[r][0], acc[r][1]);
            let h23 = _mm256_hadd_ps(acc[r][2], acc[r][3]);
            let h = _mm256_hadd_ps(h01, h23);
            let s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            let cr = c.add(r * ldc);
            if cols == NT_COLS {
                let s = if accumulate {
                    _mm_add_ps(_mm_loadu_ps(cr), s)
                } else {
                    s
                };
                _mm_storeu_ps(cr, s);
            } else {
                let mut out = [0.0f32; NT_COLS];
                _mm_storeu_ps(out.as_mut_ptr(), s);
                for (q, &v) in out[..cols].iter().enumerate() {
                    let o = cr.add(q);
                    *o = if accumulate { *o + v } else { v };
                }
            }
        }
    }

    /// `A += alpha * x y^T`.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `a >= x.len() * y.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn ger(alpha: f32, x: &[f32], y: &[f32], a: &mut [f32]) {
        let n = y.len();
        debug_assert!(a.len() >= x.len() * n);
        let yp = y.as_ptr();
        let n8 = n / 8 * 8;
        for (i, &xi) in x.iter().enumerate() {
            let s = alpha * xi;
            let sv = _mm256_set1_ps(s);
            let ap = a.as_mut_ptr().add(i * n);
            let mut j = 0;
            while j < n8 {
                let v = _mm256_fmadd_ps(sv, _mm256_loadu_ps(yp.add(j)), _mm256_loadu_ps(ap.add(j)));
                _mm256_storeu_ps(ap.add(j), v);
                j += 8;
            }
            while j < n {
                *ap.add(j) += s * *yp.add(j);
                j += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the layers
// ---------------------------------------------------------------------------------------------

/// Fills each of the `rows` rows of `out` (row length `bias.len()`) with `bias`.
#[inline]
pub fn broadcast_rows(bias: &[f32], rows: usize, out: &mut [f32]) {
    let n = bias.len();
    for row in out[..rows * n].chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
}

/// True when no element of `xs` is NaN or infinite. The magnitude bits' maximum is one
/// vectorised pass with no branch per element; `iter().all(|v| v.is_finite())` stops at the
/// first bad value and so runs scalar, which was a tenth of a MinAtar DQN run (a check of
/// every parameter after every update).
pub fn all_finite(xs: &[f32]) -> bool {
    const MAGNITUDE: u32 = 0x7fff_ffff;
    const INFINITY_BITS: u32 = 0x7f80_0000;
    let largest = xs.iter().fold(0u32, |m, v| m.max(v.to_bits() & MAGNITUDE));
    largest < INFINITY_BITS
}

/// `acc[j] += sum_i m[i, j]` for a row-major `rows x acc.len()` matrix (bias gradients).
#[inline]
pub fn add_column_sums(m: &[f32], rows: usize, acc: &mut [f32]) {
    let n = acc.len();
    for row in m[..rows * n].chunks_exact(n) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn all_finite_finds_any_nan_or_infinity_anywhere() {
        let mut xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 1e30).collect();
        xs.push(f32::MAX);
        xs.push(-f32::MAX);
        xs.push(f32::MIN_POSITIVE / 2.0);
        assert!(all_finite(&xs));
        assert!(all_finite(&[]));
        for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 7, 500, xs.len() - 1] {
                let mut ys = xs.clone();
                ys[at] = bad;
                assert!(!all_finite(&ys), "{bad} at {at}");
            }
        }
    }

    fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// Exact (f64) reference of `C = alpha op(A) op(B) + beta C`.
    #[allow(clippy::too_many_arguments)]
    fn gemm_ref(
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        beta: f32,
        c: &mut [f32],
        ldc: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let av = match ta {
                        Trans::No => a[i * lda + p],
                        Trans::Yes => a[p * lda + i],
                    };
                    let bv = match tb {
                        Trans::No => b[p * ldb + j],
                        Trans::Yes => b[j * ldb + p],
                    };
                    s += av as f64 * bv as f64;
                }
                let old = if beta == 0.0 {
                    0.0
                } else {
                    beta * c[i * ldc + j]
                };
                c[i * ldc + j] = (alpha as f64 * s) as f32 + old;
            }
        }
    }

    #[test]
    fn gemm_all_transpose_combinations_match_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &(ta, tb) in &[
            (Trans::No, Trans::No),
            (Trans::No, Trans::Yes),
            (Trans::Yes, Trans::No),
            (Trans::Yes, Trans::Yes),
        ] {
            for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (17, 9, 33), (1, 64, 256)] {
                let (ar, ac) = if ta == Trans::No { (m, k) } else { (k, m) };
                let (br, bc) = if tb == Trans::No { (k, n) } else { (n, k) };
                let a = random(ar * ac, &mut rng);
                let b = random(br * bc, &mut rng);
                let c0 = random(m * n, &mut rng);
                for &beta in &[0.0, 1.0, 0.5] {
                    let mut c = c0.clone();
                    let mut r = c0.clone();
                    gemm(ta, tb, m, n, k, 0.7, &a, ac, &b, bc, beta, &mut c, n);
                    gemm_ref(ta, tb, m, n, k, 0.7, &a, ac, &b, bc, beta, &mut r, n);
                    for (x, y) in c.iter().zip(&r) {
                        assert!(
                            (x - y).abs() < 1e-4,
                            "{ta:?} {tb:?} {m}x{n}x{k}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_with_nan_in_c_and_zero_beta_ignores_old_c() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [f32::NAN];
        gemm(
            Trans::No,
            Trans::No,
            1,
            1,
            2,
            1.0,
            &a,
            2,
            &b,
            1,
            0.0,
            &mut c,
            1,
        );
        assert_eq!(c[0], 11.0);
    }

    fn check_gemv_paths(rows: usize, cols: usize, rng: &mut ChaCha8Rng) {
        let w = random(rows * cols, rng);
        let x = random(cols, rng);
        let xt = random(rows, rng);
        let y0 = random(rows, rng);
        let yt0 = random(cols, rng);
        for &acc in &[false, true] {
            // Reference in f64.
            let want: Vec<f64> = (0..rows)
                .map(|r| {
                    let s: f64 = (0..cols)
                        .map(|c| w[r * cols + c] as f64 * x[c] as f64)
                        .sum();
                    s + if acc { y0[r] as f64 } else { 0.0 }
                })
                .collect();
            let want_t: Vec<f64> = (0..cols)
                .map(|c| {
                    let s: f64 = (0..rows)
                        .map(|r| w[r * cols + c] as f64 * xt[r] as f64)
                        .sum();
                    s + if acc { yt0[c] as f64 } else { 0.0 }
                })
                .collect();
            let mut y = y0.clone();
            portable::gemv(&w, rows, cols, &x, &mut y, acc);
            let mut yt = yt0.clone();
            portable::gemv_t(&w, rows, cols, &xt, &mut yt, acc);
            let mut outs = vec![(y, yt, "portable")];
            #[cfg(target_arch = "x86_64")]
            if cpu_has_avx2_fma() {
                let mut y = y0.clone();
                let mut yt = yt0.clone();
                // SAFETY: features detected, lengths match.
                unsafe {
                    avx2::gemv(&w, rows, cols, &x, &mut y, acc);
                    avx2::gemv_t(&w, rows, cols, &xt, &mut yt, acc);
                }
                outs.push((y, yt, "avx2"));
            }
            let mut y = y0.clone();
            gemv(&w, rows, cols, &x, &mut y, acc);
            let mut yt = yt0.clone();
            gemv_t(&w, rows, cols, &xt, &mut yt, acc);
            outs.push((y, yt, "dispatched"));
            for (y, yt, path) in outs {
                for (a, b) in y.iter().zip(&want) {
                    assert!(
                        (*a as f64 - b).abs() < 1e-4,
                        "{path} gemv {rows}x{cols}: {a} vs {b}"
                    );
                }
                for (a, b) in yt.iter().zip(&want_t) {
                    assert!(
                        (*a as f64 - b).abs() < 1e-4,
                        "{path} gemv_t {rows}x{cols}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemv_avx2_and_portable_match_reference_for_odd_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for &(r, c) in &[
            (1, 1),
            (3, 5),
            (4, 8),
            (7, 17),
            (256, 64),
            (64, 256),
            (13, 41),
            (5, 33),
            (9, 100),
        ] {
            check_gemv_paths(r, c, &mut rng);
        }
    }

    #[test]
    fn ger_paths_match_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for &(m, n) in &[(1, 1), (3, 13), (8, 16), (5, 64)] {
            let x = random(m, &mut rng);
            let y = random(n, &mut rng);
            let a0 = random(m * n, &mut rng);
            let mut want = a0.clone();
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] += 0.3 * x[i] * y[j];
                }
            }
            let mut a = a0.clone();
            portable::ger(0.3, &x, &y, &mut a);
            let mut b = a0.clone();
            ger(0.3, &x, &y, &mut b);
            for ((p, d), w) in a.iter().zip(&b).zip(&want) {
                assert!((p - w).abs() < 1e-6 && (d - w).abs() < 1e-6);
            }
        }
    }

    /// `C (+)= A B^T` on every path against an f64 reference, on shapes that leave partial
    /// register blocks in every direction (rows not a multiple of 3, columns not a multiple of
    /// 4, `k` not a multiple of 8) and with padded strides.
    #[test]
    fn gemm_nt_paths_match_reference_on_odd_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for &(m, n, k) in &[
            (1, 1, 1),
            (2, 5, 3),
            (3, 4, 8),
            (4, 7, 13),
            (5, 9, 17),
            (7, 18, 30),
            (8, 256, 64),
            (16, 36, 100),
            (11, 513, 129),
            (2, 3, 0),
        ] {
            let (lda, ldb, ldc) = (k + 3, k + 1, n + 2);
            let a = random(span(m, k, lda), &mut rng);
            let b = random(span(n, k, ldb), &mut rng);
            let c0 = random(span(m, n, ldc), &mut rng);
            for &acc in &[false, true] {
                let mut outs = Vec::new();
                let mut c = c0.clone();
                portable::gemm_nt(m, n, k, &a, lda, &b, ldb, &mut c, ldc, acc);
                outs.push((c, "portable"));
                #[cfg(target_arch = "x86_64")]
                if cpu_has_avx2_fma() {
                    let mut c = c0.clone();
                    // SAFETY: features detected; the slices span the strided matrices.
                    unsafe { avx2::gemm_nt(m, n, k, &a, lda, &b, ldb, &mut c, ldc, acc) };
                    outs.push((c, "avx2"));
                }
                let mut c = c0.clone();
                gemm_nt(m, n, k, &a, lda, &b, ldb, &mut c, ldc, acc);
                outs.push((c, "dispatched"));
                for (c, path) in outs {
                    for i in 0..m {
                        for j in 0..n {
                            let dot: f64 = (0..k)
                                .map(|p| a[i * lda + p] as f64 * b[j * ldb + p] as f64)
                                .sum();
                            let want = dot + if acc { c0[i * ldc + j] as f64 } else { 0.0 };
                            let got = c[i * ldc + j];
                            assert!(
                                (got as f64 - want).abs() < 1e-4,
                                "{path} {m}x{n}x{k} acc={acc} [{i},{j}]: {got} vs {want}"
                            );
                        }
                    }
                    // Padding between rows of C is left alone.
                    for i in 0..m.saturating_sub(1) {
                        for j in n..ldc {
                            assert_eq!(c[i * ldc + j], c0[i * ldc + j], "{path}: wrote padding");
                        }
                    }
                }
            }
        }
    }

    /// A row's result is bit-identical whether it is computed alone, as any row of a larger
    /// batch, or against a subset of `B`'s rows (what makes acting reproduce training exactly).
    #[test]
    fn gemm_nt_row_results_do_not_depend_on_batch_or_position() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (m, n, k) = (7, 22, 37);
        let a = random(m * k, &mut rng);
        let b = random(n * k, &mut rng);
        let bias = random(n, &mut rng);
        let mut full = Vec::new();
        for _ in 0..m {
            full.extend_from_slice(&bias);
        }
        gemm_nt(m, n, k, &a, k, &b, k, &mut full, n, true);
        for i in 0..m {
            let mut one = bias.clone();
            gemm_nt(1, n, k, &a[i * k..], k, &b, k, &mut one, n, true);
            assert_eq!(one, full[i * n..(i + 1) * n], "row {i} alone");
            // Columns 5..n only (shifts every element's position in its register block).
            let mut part = bias[5..].to_vec();
            gemm_nt(
                1,
                n - 5,
                k,
                &a[i * k..],
                k,
                &b[5 * k..],
                k,
                &mut part,
                n - 5,
                true,
            );
            assert_eq!(part, full[i * n + 5..(i + 1) * n], "row {i}, columns 5..");
        }
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let (rows, cols) = (19, 35);
        let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let mut dst = vec![0.0; rows * cols];
        transpose(&src, rows, cols, &mut dst);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(dst[c * rows + r], src[r * cols + c]);
            }
        }
    }

    /// A dense grid over [-20, 20] plus large and infinite arguments.
    fn grid() -> Vec<f32> {
        let mut xs: Vec<f32> = (-2_000_000..=2_000_000).map(|i| i as f32 * 1e-5).collect();
        xs.extend([1e-30, -1e-30, 1e-8, -1e-8, 1e30, -1e30, f32::MAX, f32::MIN]);
        xs.extend([f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0]);
        xs
    }

    #[test]
    fn tanh_approx_error_below_documented_bound() {
        let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
        for x in grid() {
            let want = (x as f64).tanh();
            let got = tanh_approx(x) as f64;
            let abs = (got - want).abs();
            worst_abs = worst_abs.max(abs);
            if want != 0.0 {
                worst_rel = worst_rel.max(abs / want.abs());
            } else {
                assert_eq!(got, 0.0);
            }
        }
        assert!(worst_abs < 1e-6, "tanh abs error {worst_abs:e}");
        assert!(worst_rel < 1e-6, "tanh rel error {worst_rel:e}");
        assert!(tanh_approx(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_approx_error_below_documented_bound() {
        let mut worst = 0.0f64;
        for x in grid() {
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = sigmoid_approx(x) as f64;
            assert!((0.0..=1.0).contains(&got), "sigmoid({x}) = {got}");
            worst = worst.max((got - want).abs());
        }
        assert!(worst < 1e-6, "sigmoid abs error {worst:e}");
    }

    #[test]
    fn dispatched_elementwise_kernels_equal_scalar_reference() {
        let xs = grid();
        let mut a = xs.clone();
        tanh_inplace(&mut a);
        let mut b = xs.clone();
        portable::tanh_inplace(&mut b);
        // Same arithmetic on both paths (no FMA contraction), so the results are identical.
        assert_eq!(a, b);
        let mut a = xs.clone();
        sigmoid_inplace(&mut a);
        let mut b = xs;
        portable::sigmoid_inplace(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn simd_level_is_stable_and_consistent_with_cpu() {
        let l = simd_level();
        assert_eq!(l, simd_level());
        if !cpu_has_avx2_fma() {
            assert_eq!(l, SimdLevel::Portable);
        }
    }

    #[test]
    fn shapes_whose_extent_overflows_are_refused_not_written() {
        let (a, b) = (vec![1.0f32; 4], vec![1.0f32; 4]);
        let huge = usize::MAX / 2 + 2;
        let calls: Vec<Box<dyn Fn() + std::panic::RefUnwindSafe>> = vec![
            Box::new(move || {
                let mut c = vec![0.0f32; 4];
                gemm(
                    Trans::No,
                    Trans::No,
                    huge,
                    2,
                    2,
                    1.0,
                    &a,
                    2,
                    &b,
                    2,
                    0.0,
                    &mut c,
                    2,
                );
            }),
            Box::new(|| {
                let (a, b, mut c) = (vec![1.0f32; 4], vec![1.0f32; 4], vec![0.0f32; 4]);
                gemm_nt(2, huge, 2, &a, 2, &b, 2, &mut c, huge, false);
            }),
            Box::new(|| {
                let (w, x, mut y) = (vec![1.0f32; 4], vec![1.0f32; 4], vec![0.0f32; 4]);
                gemv(&w, huge, 4, &x, &mut y, false);
            }),
            Box::new(|| {
                let (w, x, mut y) = (vec![1.0f32; 4], vec![1.0f32; 4], vec![0.0f32; 4]);
                gemv_t(&w, 4, huge, &x, &mut y, false);
            }),
            Box::new(|| {
                let (src, mut dst) = (vec![1.0f32; 4], vec![0.0f32; 4]);
                transpose(&src, huge, 4, &mut dst);
            }),
        ];
        for (i, call) in calls.iter().enumerate() {
            let outcome = std::panic::catch_unwind(call);
            assert!(outcome.is_err(), "call {i} accepted an overflowing shape");
        }
    }
}
