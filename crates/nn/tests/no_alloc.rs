//! The hot paths allocate nothing: forward, backward and acting steps run on buffers sized
//! when the model and its tapes were built. Checked with a counting global allocator.

use engram_nn::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // Per thread, so the test harness's own threads do not disturb the count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(|a| a.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn network(core: &str) -> (Network, ParamLayout) {
    let config = NetworkConfig::new(4)
        .encoder(&[16], Activation::Tanh, Init::ZEROS)
        .head("policy", 2, Init::ZEROS)
        .head("value", 1, Init::ZEROS);
    let config = match core {
        "lstm" => config.lstm(32),
        "gru" => config.gru(32),
        _ => config,
    };
    let mut layout = ParamLayout::new();
    let net = Network::new(&mut layout, "", &config).unwrap();
    (net, layout)
}

/// Allocations made by `iterations` updates (forward + backward) over `steps` steps at batch 1.
fn allocations_per_update(core: &str, steps: usize) -> usize {
    let (net, layout) = network(core);
    let p: Vec<f32> = (0..layout.len())
        .map(|i| ((i % 7) as f32 - 3.0) * 0.05)
        .collect();
    let mut g = layout.zeros();
    let xs: Vec<f32> = (0..steps * 4).map(|i| (i % 5) as f32 * 0.1).collect();
    let starts: Vec<bool> = (0..steps).map(|i| i % 5 == 0).collect();
    let d_pi = vec![0.1; steps * 2];
    let d_v = vec![0.2; steps];
    let mut tape = net.tape(steps, 1);
    let mut state = net.initial_state(1);
    let mut d0 = net.initial_state(1);
    let mut dxs = vec![0.0; xs.len()];
    let mut update = || {
        net.forward_seq(&p, &xs, steps, Some(&starts), &mut state, &mut tape);
        net.backward_seq(
            &p,
            &mut g,
            &xs,
            &[&d_pi, &d_v],
            &mut tape,
            Some(&mut dxs),
            Some(&mut d0),
        );
    };
    update(); // first call: CPU feature detection
    let before = allocations();
    update();
    allocations() - before
}

#[test]
fn acting_step_at_batch_1_does_not_allocate() {
    for core in ["lstm", "gru", "none"] {
        let (net, layout) = network(core);
        let p: Vec<f32> = (0..layout.len())
            .map(|i| ((i % 7) as f32 - 3.0) * 0.05)
            .collect();
        let mut scratch = net.step_scratch(1);
        let mut state = net.initial_state(1);
        let x = [0.1, -0.2, 0.3, 0.4];
        net.step(&p, &x, &mut state, &mut scratch);
        let before = allocations();
        for _ in 0..10 {
            state.reset_rows(&[false]);
            net.step(&p, &x, &mut state, &mut scratch);
        }
        let after = allocations();
        assert_eq!(after, before, "{core}: the acting step allocated");
    }
}

/// At batch 1 the per-step work is allocation-free: an update over 16 steps allocates exactly
/// as often as one over 4. (The remaining per-update allocations are the GEMM crate's packing
/// buffers, one per `matrixmultiply::sgemm` call over the whole sequence.)
#[test]
fn update_allocations_do_not_grow_with_sequence_length() {
    for core in ["lstm", "gru"] {
        let short = allocations_per_update(core, 4);
        let long = allocations_per_update(core, 16);
        assert_eq!(short, long, "{core}: allocations per update grow with T");
        assert!(short <= 16, "{core}: {short} allocations per update");
    }
}
