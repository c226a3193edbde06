//! Times a Linear layer's batched forward product both ways, `kernels::gemm_nt` (the weight
//! as stored) against `kernels::gemm` (packed), to place the threshold in `linear.rs`:
//! `cargo run --release -p engram-nn --example linear_kernels`.

use engram_nn::kernels::{self, Trans};
use std::time::Instant;

fn main() {
    println!("batch  out   in   gemm_nt_us   gemm_us");
    for &(batch, out, inp) in &[
        (64usize, 1usize, 64usize),
        (1024, 1, 64),
        (64, 4, 64),
        (1024, 4, 64),
        (64, 16, 64),
        (1024, 16, 64),
        (64, 32, 64),
        (1024, 32, 64),
        (16, 64, 64),
        (64, 64, 64),
        (256, 64, 64),
        (256, 256, 256),
        (256, 300, 400),
        (20, 128, 1024),
        (32, 128, 1024),
        (64, 128, 1024),
        (256, 128, 1024),
        (32, 512, 3136),
        (256, 64, 256),
        (256, 64, 512),
        (256, 64, 1024),
        (32, 32, 256),
        (32, 64, 256),
        (32, 128, 512),
    ] {
        let x: Vec<f32> = (0..batch * inp).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..out * inp).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut y = vec![0.0f32; batch * out];
        let iters = (20_000_000 / (batch * out * inp)).max(10);
        let mut best = [f64::MAX; 2];
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters {
                kernels::gemm_nt(batch, out, inp, &x, inp, &w, inp, &mut y, out, false);
            }
            best[0] = best[0].min(t.elapsed().as_secs_f64() / iters as f64 * 1e6);
            let t = Instant::now();
            for _ in 0..iters {
                kernels::gemm(
                    Trans::No,
                    Trans::Yes,
                    batch,
                    out,
                    inp,
                    1.0,
                    &x,
                    inp,
                    &w,
                    inp,
                    0.0,
                    &mut y,
                    out,
                );
            }
            best[1] = best[1].min(t.elapsed().as_secs_f64() / iters as f64 * 1e6);
        }
        println!("{batch:5} {out:4} {inp:4} {:12.2} {:9.2}", best[0], best[1]);
    }
}
