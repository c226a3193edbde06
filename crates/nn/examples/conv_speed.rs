//! Convolutional networks against PyTorch (`bench/torch_reference.py --filter conv`): the same
//! networks, inputs and loss, single thread.
//!
//! `cargo run --release -p engram-nn --example conv_speed` (with `CONV_SPEED_ACT_LOOP=1`: only
//! MinAtar acting, for 4 s, to run under a profiler)
//!
//! * MinAtar (Young & Tian 2019): `[10, 10, 4]` -> Conv 16 3x3 -> ReLU -> Linear 1024->128 ->
//!   ReLU -> policy 6 + value 1. `act_conv_minatar`: one observation, forward only.
//!   `update_conv_minatar_b32`: 32 observations, forward, loss `sum(w * heads)` for fixed `w`,
//!   backward, Adam.
//! * Nature DQN (Mnih et al. 2015): `[84, 84, 4]` -> Conv 32 8x8/4 -> Conv 64 4x4/2 -> Conv 64
//!   3x3/1 -> Linear 3136->512, ReLU after each, -> 6 + 1. Same two workloads.
//!
//! Prints the median time per call over about 2 s of samples.

use engram_nn::optim::{Adam, AdamConfig, Optimizer};
use engram_nn::{
    Activation, ConvEncoderSpec, ConvLayerSpec, Init, Network, NetworkConfig, ParamLayout,
};
use std::hint::black_box;
use std::time::Instant;

fn network(
    image: [usize; 3],
    convs: &[(usize, usize, usize)],
    dense: usize,
) -> (Network, ParamLayout) {
    let layers = convs
        .iter()
        .map(|&(filters, kernel, stride)| ConvLayerSpec {
            filters,
            kernel,
            stride,
            padding: 0,
        })
        .collect();
    let config = NetworkConfig::new(image.iter().product())
        .encoder(&[dense], Activation::Relu, Init::UniformFanIn)
        .conv(ConvEncoderSpec { image, layers })
        .head("pi", 6, Init::UniformFanIn)
        .head("vf", 1, Init::UniformFanIn);
    let mut layout = ParamLayout::new();
    let net = Network::new(&mut layout, "", &config).expect("a valid network");
    (net, layout)
}

/// A fixed pseudo-random sequence in [-1, 1) (no RNG crate needed).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn median_us(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0;
    while n < 3 || start.elapsed().as_secs_f64() < 0.2 {
        f();
        n += 1;
    }
    let per = start.elapsed().as_secs_f64() / n as f64;
    let reps = ((200e-6 / per).ceil() as usize).max(1);
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || start.elapsed().as_secs_f64() < 2.0 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / reps as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn run(name: &str, image: [usize; 3], convs: &[(usize, usize, usize)], dense: usize) {
    let (net, layout) = network(image, convs, dense);
    let params = values(layout.len(), 1)
        .iter()
        .map(|v| v * 0.05)
        .collect::<Vec<_>>();
    let obs_len: usize = image.iter().product();
    // Acting: batch 1, no allocation.
    let obs1 = values(obs_len, 2);
    let mut scratch = net.step_scratch(1);
    let mut state = net.initial_state(1);
    if std::env::var("CONV_SPEED_ACT_LOOP").is_ok() {
        // For a profiler: acting only, for a few seconds.
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < 4.0 {
            for _ in 0..1000 {
                net.step(&params, &obs1, &mut state, &mut scratch);
            }
        }
        std::process::exit(0);
    }
    let act = median_us(|| {
        net.step(&params, &obs1, &mut state, &mut scratch);
        black_box(scratch.head(0)[0]);
    });
    println!(
        "act_conv_{name:<16} {act:>10.2} us   ({:.0} steps/s)",
        1e6 / act
    );
    // Training: batch 32.
    let batch = 32;
    let obs = values(batch * obs_len, 3);
    let w_pi = values(batch * 6, 4);
    let w_vf = values(batch, 5);
    let mut params = params;
    let mut grads = layout.zeros();
    let mut tape = net.tape(1, batch);
    let mut state = net.initial_state(batch);
    let mut adam = Adam::new(AdamConfig::default(), layout.len());
    let update = median_us(|| {
        net.forward_seq(&params, &obs, 1, None, &mut state, &mut tape);
        grads.fill(0.0);
        net.backward_seq(
            &params,
            &mut grads,
            &obs,
            &[&w_pi, &w_vf],
            &mut tape,
            None,
            None,
        );
        adam.step(&mut params, &grads, 1e-4);
        black_box(&params);
    });
    println!(
        "update_conv_{name}_b32 {update:>10.2} us   ({:.0} samples/s)",
        batch as f64 * 1e6 / update
    );
}

fn main() {
    println!(
        "engram-nn conv, one thread (SIMD: {:?})",
        engram_nn::kernels::simd_level()
    );
    run("minatar", [10, 10, 4], &[(16, 3, 1)], 128);
    run(
        "nature",
        [84, 84, 4],
        &[(32, 8, 4), (64, 4, 2), (64, 3, 1)],
        512,
    );
}
