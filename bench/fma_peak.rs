//! One core's peak f32 FMA rate (AVX2 + FMA): 12 independent 8-lane chains, so neither the
//! FMA latency nor anything else limits it. The ceiling for any kernel's GFLOP/s here.
//! `rustc -O -C target-cpu=native bench/fma_peak.rs -o /tmp/fma_peak && /tmp/fma_peak`
use std::arch::x86_64::*;
use std::time::Instant;

#[target_feature(enable = "avx2,fma")]
unsafe fn chains(iters: u64) -> f32 {
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x));
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

fn main() {
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
    let iters = 200_000_000u64;
    for _ in 0..3 {
        let start = Instant::now();
        // SAFETY: AVX2 and FMA detected above.
        let checksum = unsafe { chains(iters) };
        let flops = iters as f64 * 12.0 * 8.0 * 2.0;
        println!(
            "{:.1} GFLOP/s (checksum {checksum})",
            flops / start.elapsed().as_secs_f64() / 1e9
        );
    }
}
