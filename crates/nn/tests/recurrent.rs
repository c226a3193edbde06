//! Gradient checks and consistency tests for the recurrent layers and the composed network.

use engram_nn::gradcheck::check_gradient;
use engram_nn::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EPS: f32 = 5e-3;
const TOL: f64 = 1e-3;
/// Gradients below this magnitude are compared absolutely, i.e. to within `TOL * FLOOR = 5e-5`:
/// the f32 forward pass rounds the summed loss by ~2e-7, which central differences divide by
/// `2 * EPS`, and the truncation error grows as `EPS^2`; together ~2e-5 at best in f32.
const FLOOR: f64 = 5e-2;

fn random(n: usize, scale: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

fn dot(y: &[f32], w: &[f32]) -> f64 {
    assert_eq!(y.len(), w.len());
    y.iter().zip(w).map(|(&y, &w)| y as f64 * w as f64).sum()
}

/// Episode starts in the middle of the sequence: row 0 restarts at step 2, row 1 at step 3
/// (row 2, if any, never restarts).
fn starts(steps: usize, batch: usize) -> Vec<bool> {
    let mut s = vec![false; steps * batch];
    s[2 * batch] = true;
    if batch > 1 {
        s[3 * batch + 1] = true;
    }
    s
}

/// The two recurrent layers behind one interface, so each test runs on both.
enum Rnn {
    Lstm(Lstm),
    Gru(Gru),
}

enum Tape {
    Lstm(LstmTape),
    Gru(GruTape),
}

impl Rnn {
    fn build(kind: &str, layout: &mut ParamLayout, input: usize, hidden: usize) -> Rnn {
        match kind {
            "lstm" => Rnn::Lstm(Lstm::new(layout, "rnn", input, hidden).unwrap()),
            _ => Rnn::Gru(Gru::new(layout, "rnn", input, hidden).unwrap()),
        }
    }
    fn has_cell(&self) -> bool {
        matches!(self, Rnn::Lstm(_))
    }
    fn tape(&self, t: usize, b: usize) -> Tape {
        match self {
            Rnn::Lstm(l) => Tape::Lstm(l.tape(t, b)),
            Rnn::Gru(g) => Tape::Gru(g.tape(t, b)),
        }
    }
    fn forward<'t>(
        &self,
        p: &[f32],
        xs: &[f32],
        steps: usize,
        st: Option<&[bool]>,
        state: &mut RecurrentState,
        tape: &'t mut Tape,
    ) -> &'t [f32] {
        match (self, tape) {
            (Rnn::Lstm(l), Tape::Lstm(t)) => {
                l.forward_seq(p, xs, steps, st, state, t);
                t.outputs()
            }
            (Rnn::Gru(g), Tape::Gru(t)) => {
                g.forward_seq(p, xs, steps, st, state, t);
                t.outputs()
            }
            _ => unreachable!(),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        dys: &[f32],
        d_final: &RecurrentState,
        tape: &mut Tape,
        dxs: &mut [f32],
        d0: &mut RecurrentState,
    ) {
        match (self, tape) {
            (Rnn::Lstm(l), Tape::Lstm(t)) => {
                l.backward_seq(p, g, xs, dys, Some(d_final), t, Some(dxs), Some(d0))
            }
            (Rnn::Gru(gru), Tape::Gru(t)) => {
                gru.backward_seq(p, g, xs, dys, Some(d_final), t, Some(dxs), Some(d0))
            }
            _ => unreachable!(),
        }
    }
}

/// Loss = <w_y, outputs> + <w_h, final h> + <w_c, final c>, differentiated w.r.t. parameters,
/// inputs and both parts of the initial state, over a sequence with resets in the middle.
fn gradcheck_rnn(kind: &str, batch: usize, seed: u64) {
    let (input, hidden, steps) = (3, 5, 6);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layout = ParamLayout::new();
    let rnn = Rnn::build(kind, &mut layout, input, hidden);
    let p = random(layout.len(), 0.6, &mut rng);
    let xs = random(steps * batch * input, 1.0, &mut rng);
    let st = starts(steps, batch);
    let mut s0 = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    s0.h = random(batch * hidden, 0.8, &mut rng);
    if rnn.has_cell() {
        s0.c = random(batch * hidden, 0.8, &mut rng);
    }
    let w_y = random(steps * batch * hidden, 1.0, &mut rng);
    let mut w_final = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    w_final.h = random(batch * hidden, 1.0, &mut rng);
    if rnn.has_cell() {
        w_final.c = random(batch * hidden, 1.0, &mut rng);
    }

    let mut tape = rnn.tape(steps + 2, batch + 1); // larger than needed on purpose
    let mut loss = |p: &[f32], xs: &[f32], s0: &RecurrentState| {
        let mut s = s0.clone();
        let ys = rnn.forward(p, xs, steps, Some(&st), &mut s, &mut tape);
        dot(ys, &w_y) + dot(&s.h, &w_final.h) + dot(&s.c, &w_final.c)
    };

    let mut tape2 = rnn.tape(steps, batch);
    let mut s = s0.clone();
    rnn.forward(&p, &xs, steps, Some(&st), &mut s, &mut tape2);
    let mut g = vec![0.0; layout.len()];
    let mut dxs = vec![0.0; xs.len()];
    let mut d0 = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    rnn.backward(
        &p, &mut g, &xs, &w_y, &w_final, &mut tape2, &mut dxs, &mut d0,
    );

    let what = format!("{kind} batch {batch}");
    check_gradient(|p| loss(p, &xs, &s0), &p, &g, EPS, TOL, FLOOR)
        .unwrap_or_else(|e| panic!("{what} params: {e}"));
    check_gradient(|x| loss(&p, x, &s0), &xs, &dxs, EPS, TOL, FLOOR)
        .unwrap_or_else(|e| panic!("{what} inputs: {e}"));
    let h0 = s0.h.clone();
    check_gradient(
        |h| {
            let mut s = s0.clone();
            s.h.copy_from_slice(h);
            loss(&p, &xs, &s)
        },
        &h0,
        &d0.h,
        EPS,
        TOL,
        FLOOR,
    )
    .unwrap_or_else(|e| panic!("{what} initial h: {e}"));
    if rnn.has_cell() {
        let c0 = s0.c.clone();
        check_gradient(
            |c| {
                let mut s = s0.clone();
                s.c.copy_from_slice(c);
                loss(&p, &xs, &s)
            },
            &c0,
            &d0.c,
            EPS,
            TOL,
            FLOOR,
        )
        .unwrap_or_else(|e| panic!("{what} initial c: {e}"));
    }
}

/// A reset at step 0 cuts a row off from the initial state: no gradient may reach it.
fn reset_at_first_step_blocks_initial_state_gradient(kind: &str) {
    let (input, hidden, steps, batch) = (2, 3, 4, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut layout = ParamLayout::new();
    let rnn = Rnn::build(kind, &mut layout, input, hidden);
    let p = random(layout.len(), 0.6, &mut rng);
    let xs = random(steps * batch * input, 1.0, &mut rng);
    let mut st = vec![false; steps * batch];
    st[0] = true; // row 0, step 0
    let mut tape = rnn.tape(steps, batch);
    let mut s = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    s.h.fill(0.5);
    rnn.forward(&p, &xs, steps, Some(&st), &mut s, &mut tape);
    let dys = random(steps * batch * hidden, 1.0, &mut rng);
    let d_final = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    let mut g = vec![0.0; layout.len()];
    let mut dxs = vec![0.0; xs.len()];
    let mut d0 = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    rnn.backward(
        &p, &mut g, &xs, &dys, &d_final, &mut tape, &mut dxs, &mut d0,
    );
    assert!(
        d0.h[..hidden].iter().all(|&v| v == 0.0),
        "{kind}: gradient leaked through a reset"
    );
    assert!(
        d0.h[hidden..].iter().any(|&v| v != 0.0),
        "{kind}: row 1 must get a gradient"
    );
}

#[test]
fn reset_blocks_gradient_into_initial_state() {
    reset_at_first_step_blocks_initial_state_gradient("lstm");
    reset_at_first_step_blocks_initial_state_gradient("gru");
}

#[test]
fn lstm_gradients_match_finite_differences_with_resets() {
    gradcheck_rnn("lstm", 1, 1);
    gradcheck_rnn("lstm", 3, 2);
}

#[test]
fn gru_gradients_match_finite_differences_with_resets() {
    gradcheck_rnn("gru", 1, 3);
    gradcheck_rnn("gru", 3, 4);
}

/// Stepping one step at a time (resetting rows by hand) gives the sequence path's outputs.
fn step_equals_sequence(kind: &str, batch: usize) {
    let (input, hidden, steps) = (4, 16, 7);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut layout = ParamLayout::new();
    let rnn = Rnn::build(kind, &mut layout, input, hidden);
    let p = random(layout.len(), 0.5, &mut rng);
    let xs = random(steps * batch * input, 1.0, &mut rng);
    let st = starts(steps, batch);
    let mut s0 = RecurrentState::zeros(batch, hidden, rnn.has_cell());
    s0.h = random(batch * hidden, 0.8, &mut rng);
    if rnn.has_cell() {
        s0.c = random(batch * hidden, 0.8, &mut rng);
    }
    let mut tape = rnn.tape(steps, batch);
    let mut s_seq = s0.clone();
    let ys = rnn
        .forward(&p, &xs, steps, Some(&st), &mut s_seq, &mut tape)
        .to_vec();

    let mut s = s0.clone();
    let (mut ls, mut gs) = (
        LstmStepScratch::new(batch, hidden),
        GruStepScratch::new(batch, hidden),
    );
    for t in 0..steps {
        s.reset_rows(&st[t * batch..(t + 1) * batch]);
        let x = &xs[t * batch * input..(t + 1) * batch * input];
        match &rnn {
            Rnn::Lstm(l) => l.step(&p, x, &mut s, &mut ls),
            Rnn::Gru(g) => g.step(&p, x, &mut s, &mut gs),
        }
        for (a, b) in
            s.h.iter()
                .zip(&ys[t * batch * hidden..(t + 1) * batch * hidden])
        {
            assert!(
                (a - b).abs() < 1e-5,
                "{kind} b={batch} step {t}: {a} vs {b}"
            );
        }
    }
    for (a, b) in s.c.iter().zip(&s_seq.c) {
        assert!((a - b).abs() < 1e-5, "{kind}: final cell differs");
    }
}

#[test]
fn single_step_path_equals_sequence_path() {
    for kind in ["lstm", "gru"] {
        for batch in [1, 3] {
            step_equals_sequence(kind, batch);
        }
    }
}

#[test]
fn reset_flag_makes_the_row_forget_its_past() {
    // The outputs from step 2 on in a reset row equal a fresh run from a zero state.
    let (input, hidden, steps) = (2, 3, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut layout = ParamLayout::new();
    let lstm = Lstm::new(&mut layout, "l", input, hidden).unwrap();
    let p = random(layout.len(), 0.5, &mut rng);
    let xs = random(steps * input, 1.0, &mut rng);
    let mut st = vec![false; steps];
    st[2] = true;
    let mut tape = lstm.tape(steps, 1);
    let mut s = lstm.zero_state(1);
    s.h.fill(0.7);
    lstm.forward_seq(&p, &xs, steps, Some(&st), &mut s, &mut tape);
    let with_reset = tape.outputs()[2 * hidden..].to_vec();
    let mut s = lstm.zero_state(1);
    lstm.forward_seq(&p, &xs[2 * input..], steps - 2, None, &mut s, &mut tape);
    assert_eq!(with_reset, tape.outputs());
}

#[test]
fn lstm_matches_hand_computed_single_step() {
    // H = 1, I = 1: every gate by hand, in PyTorch's order (i, f, g, o).
    let mut layout = ParamLayout::new();
    let lstm = Lstm::new(&mut layout, "l", 1, 1).unwrap();
    let mut p = vec![0.0; layout.len()];
    p[lstm.weight_ih.range()].copy_from_slice(&[0.5, -0.3, 0.8, 0.1]);
    p[lstm.weight_hh.range()].copy_from_slice(&[0.2, 0.4, -0.6, 0.9]);
    p[lstm.bias.range()].copy_from_slice(&[0.1, 1.0, 0.0, -0.2]);
    let (x, h, c) = (1.5f64, -0.4f64, 0.3f64);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let i = sig(0.5 * x + 0.2 * h + 0.1);
    let f = sig(-0.3 * x + 0.4 * h + 1.0);
    let g = (0.8 * x - 0.6 * h).tanh();
    let o = sig(0.1 * x + 0.9 * h - 0.2);
    let c1 = f * c + i * g;
    let h1 = o * c1.tanh();
    let mut s = lstm.zero_state(1);
    s.h[0] = h as f32;
    s.c[0] = c as f32;
    lstm.step(&p, &[x as f32], &mut s, &mut LstmStepScratch::new(1, 1));
    assert!((s.c[0] as f64 - c1).abs() < 1e-6 && (s.h[0] as f64 - h1).abs() < 1e-6);
}

#[test]
fn gru_matches_hand_computed_single_step() {
    let mut layout = ParamLayout::new();
    let gru = Gru::new(&mut layout, "g", 1, 1).unwrap();
    let mut p = vec![0.0; layout.len()];
    p[gru.weight_ih.range()].copy_from_slice(&[0.5, -0.3, 0.8]);
    p[gru.weight_hh.range()].copy_from_slice(&[0.2, 0.4, -0.6]);
    p[gru.bias_ih.range()].copy_from_slice(&[0.1, 0.2, 0.3]);
    p[gru.bias_hh.range()].copy_from_slice(&[-0.1, 0.05, 0.25]);
    let (x, h) = (1.5f64, -0.4f64);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let r = sig(0.5 * x + 0.1 + 0.2 * h - 0.1);
    let z = sig(-0.3 * x + 0.2 + 0.4 * h + 0.05);
    let n = (0.8 * x + 0.3 + r * (-0.6 * h + 0.25)).tanh();
    let h1 = (1.0 - z) * n + z * h;
    let mut s = gru.zero_state(1);
    s.h[0] = h as f32;
    gru.step(&p, &[x as f32], &mut s, &mut GruStepScratch::new(1, 1));
    assert!((s.h[0] as f64 - h1).abs() < 1e-6, "{} vs {h1}", s.h[0]);
}

fn network_config(core: &str) -> NetworkConfig {
    let c = NetworkConfig::new(3)
        .encoder(&[6], Activation::Tanh, Init::ZEROS)
        .head("policy", 2, Init::ZEROS)
        .head("value", 1, Init::ZEROS);
    match core {
        "lstm" => c.lstm(4),
        "gru" => c.gru(4),
        _ => c,
    }
}

#[test]
fn network_gradients_match_finite_differences() {
    for core in ["lstm", "gru", "none"] {
        let (steps, batch) = (5, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let mut layout = ParamLayout::new();
        let net = Network::new(&mut layout, "net", &network_config(core)).unwrap();
        assert!(layout.get("net.encoder.0.weight").is_some());
        assert!(layout.get("net.value.bias").is_some());
        let p = random(layout.len(), 0.6, &mut rng);
        let xs = random(steps * batch * 3, 1.0, &mut rng);
        let st = starts(steps, batch);
        let mut s0 = net.initial_state(batch);
        let s0h = random(s0.h.len(), 0.5, &mut rng);
        s0.h.copy_from_slice(&s0h);
        let w_pi = random(steps * batch * 2, 1.0, &mut rng);
        let w_v = random(steps * batch, 1.0, &mut rng);
        let mut tape = net.tape(steps, batch);
        let mut loss = |p: &[f32], xs: &[f32], s0: &RecurrentState| {
            let mut s = s0.clone();
            net.forward_seq(p, xs, steps, Some(&st), &mut s, &mut tape);
            dot(tape.head(0), &w_pi) + dot(tape.head(1), &w_v)
        };
        let mut t2 = net.tape(steps, batch);
        let mut s = s0.clone();
        net.forward_seq(&p, &xs, steps, Some(&st), &mut s, &mut t2);
        let mut g = vec![0.0; layout.len()];
        let mut dxs = vec![0.0; xs.len()];
        let mut d0 = net.initial_state(batch);
        net.backward_seq(
            &p,
            &mut g,
            &xs,
            &[&w_pi, &w_v],
            &mut t2,
            Some(&mut dxs),
            Some(&mut d0),
        );
        check_gradient(|p| loss(p, &xs, &s0), &p, &g, EPS, TOL, FLOOR)
            .unwrap_or_else(|e| panic!("network {core} params: {e}"));
        check_gradient(|x| loss(&p, x, &s0), &xs, &dxs, EPS, TOL, FLOOR)
            .unwrap_or_else(|e| panic!("network {core} inputs: {e}"));
        check_gradient(
            |h| {
                let mut s = s0.clone();
                s.h.copy_from_slice(h);
                loss(&p, &xs, &s)
            },
            &s0h,
            &d0.h,
            EPS,
            TOL,
            FLOOR,
        )
        .unwrap_or_else(|e| panic!("network {core} initial h: {e}"));
    }
}

#[test]
fn network_step_equals_forward_seq() {
    for core in ["lstm", "gru", "none"] {
        let (steps, batch) = (6, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        let mut layout = ParamLayout::new();
        let net = Network::new(&mut layout, "", &network_config(core)).unwrap();
        let p = random(layout.len(), 0.6, &mut rng);
        let xs = random(steps * batch * 3, 1.0, &mut rng);
        let st = starts(steps, batch);
        let mut tape = net.tape(steps, batch);
        let mut s = net.initial_state(batch);
        net.forward_seq(&p, &xs, steps, Some(&st), &mut s, &mut tape);
        let mut scratch = net.step_scratch(batch);
        let mut s = net.initial_state(batch);
        for t in 0..steps {
            s.reset_rows(&st[t * batch..(t + 1) * batch]);
            net.step(
                &p,
                &xs[t * batch * 3..(t + 1) * batch * 3],
                &mut s,
                &mut scratch,
            );
            let x = &xs[t * batch * 3..(t + 1) * batch * 3];
            let features = scratch.features(x, &s);
            let width = net.feature_size;
            assert_eq!(features.len(), batch * width, "{core}");
            let seq_features = &tape.features(&xs)[t * batch * width..(t + 1) * batch * width];
            for (a, b) in features.iter().zip(seq_features) {
                assert!((a - b).abs() < 1e-5, "{core} step {t} features: {a} vs {b}");
            }
            // The heads read exactly these features.
            let mut head_out = vec![0.0; batch * 2];
            net.heads[0].forward(&p, features, batch, &mut head_out);
            assert_eq!(head_out, scratch.head(0), "{core}");
            for head in 0..2 {
                let n = scratch.head(head).len();
                let seq = &tape.head(head)[t * n..(t + 1) * n];
                for (a, b) in scratch.head(head).iter().zip(seq) {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "{core} step {t} head {head}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn network_build_errors_name_the_problem() {
    let mut layout = ParamLayout::new();
    let no_heads = NetworkConfig::new(4).lstm(8);
    let e = Network::new(&mut layout, "n", &no_heads).unwrap_err();
    assert!(e.to_string().contains("no output heads"), "{e}");
    let zero_head = NetworkConfig::new(4).head("pi", 0, Init::ZEROS);
    let e = Network::new(&mut layout, "n", &zero_head).unwrap_err();
    assert!(e.to_string().contains("head `pi`"), "{e}");
    let dup = NetworkConfig::new(4)
        .head("v", 1, Init::ZEROS)
        .head("v", 1, Init::ZEROS);
    let e = Network::new(&mut layout, "n", &dup).unwrap_err();
    assert!(e.to_string().contains("two heads"), "{e}");
    let zero_hidden = NetworkConfig::new(4).lstm(0).head("v", 1, Init::ZEROS);
    let e = Network::new(&mut layout, "n", &zero_hidden).unwrap_err();
    assert!(e.to_string().contains("hidden_size"), "{e}");
    let zero_input = NetworkConfig::new(0).head("v", 1, Init::ZEROS);
    assert!(Network::new(&mut layout, "n", &zero_input).is_err());
}

/// `input_gradient_rows` on a subset of rows equals those rows of a full backward's input
/// gradient, for a two-head ReLU MLP, and leaves the parameter gradient alone.
#[test]
fn input_gradient_rows_matches_the_full_backward_on_its_rows() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let mut layout = ParamLayout::new();
    let config = NetworkConfig::new(5)
        .encoder(&[9, 7], Activation::Relu, Init::UniformFanIn)
        .head("q", 1, Init::UniformFanIn)
        .head("r", 2, Init::UniformFanIn);
    let net = Network::new(&mut layout, "net", &config).unwrap();
    let p = random(layout.len(), 0.6, &mut rng);
    let batch = 6;
    let xs = random(batch * 5, 1.0, &mut rng);
    let dq = random(batch, 1.0, &mut rng);
    let dr = random(batch * 2, 1.0, &mut rng);
    let mut state = net.initial_state(batch);
    let mut tape = net.tape(1, batch);
    net.forward_seq(&p, &xs, 1, None, &mut state, &mut tape);
    let mut g = vec![0.0; layout.len()];
    let mut full = vec![0.0; batch * 5];
    net.backward_seq(
        &p,
        &mut g,
        &xs,
        &[&dq, &dr],
        &mut tape,
        Some(&mut full),
        None,
    );
    let rows = [4usize, 1, 3];
    let pick = |v: &[f32], w: usize| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| v[r * w..(r + 1) * w].to_vec())
            .collect()
    };
    let mut dx = vec![0.5; rows.len() * 5];
    net.input_gradient_rows(
        &p,
        &mut tape,
        &rows,
        &[&pick(&dq, 1), &pick(&dr, 2)],
        &mut dx,
    );
    for (got, want) in dx.iter().zip(pick(&full, 5)) {
        assert!((got - 0.5 - want).abs() < 1e-5, "{got} - 0.5 vs {want}");
    }
    let mut none = vec![0.0; 0];
    net.input_gradient_rows(&p, &mut tape, &[], &[&[], &[]], &mut none);
}
