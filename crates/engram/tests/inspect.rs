//! `engram inspect`: the recorded states and gates are the acting step's own (the cell's
//! update recomputed from the recorded gates gives the next state bit for bit), and the files
//! and pictures it writes are complete and valid.

#![allow(clippy::needless_range_loop)] // units index several rows at once

mod common;

use common::{tuned, with};
use engram::inspect::{first_observation_correlation, record, saturation, write};
use engram::nn::kernels::tanh_approx;

fn trained(policy: &str, dir: &std::path::Path) -> engram::play::Loaded {
    let c = with(
        tuned("a2c", "TMaze-v0"),
        &[
            &format!("policy={policy}"),
            "total_steps=400",
            "eval_interval=0",
            "n_envs=2",
            "hidden_size=12",
        ],
    );
    engram::train::train(c, Some(dir), true).unwrap();
    engram::play::load(dir, true).unwrap()
}

#[test]
fn lstm_gates_reproduce_the_state_bit_for_bit_and_files_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = trained("lstm", &tmp.path().join("run"));
    let rec = record(&loaded, 3, 7).unwrap();
    assert_eq!(rec.core_names, ["h", "c", "i", "f", "g", "o"]);
    assert_eq!(rec.hidden, 12);
    assert_eq!(rec.returns.len(), 3);
    let at = |name: &str| rec.core_names.iter().position(|n| n == name).unwrap();
    let (h, c, i, f, g, o) = (at("h"), at("c"), at("i"), at("f"), at("g"), at("o"));
    let mut c_prev = vec![0.0f32; rec.hidden];
    for s in &rec.steps {
        if s.t == 0 {
            c_prev.fill(0.0);
        }
        for u in 0..rec.hidden {
            let cell = s.core[f][u] * c_prev[u] + s.core[i][u] * s.core[g][u];
            let hidden = s.core[o][u] * tanh_approx(cell);
            assert_eq!(cell.to_bits(), s.core[c][u].to_bits(), "c, step {}", s.t);
            assert_eq!(hidden.to_bits(), s.core[h][u].to_bits(), "h, step {}", s.t);
        }
        c_prev.copy_from_slice(&s.core[c]);
        let total: f32 = s.policy.iter().sum();
        assert_eq!(s.policy.len(), 4);
        assert!((total - 1.0).abs() < 1e-5, "probabilities sum to {total}");
        assert!(s.value.is_some());
    }
    let sat = saturation(&rec, i);
    assert_eq!(sat.len(), 12);
    assert!(sat
        .iter()
        .all(|(l, r)| *l >= 0.0 && *r >= 0.0 && l + r <= 1.0));
    // The T-maze's first observation is the cue: it varies across these episodes' starts or not,
    // and the correlation is in [-1, 1] either way.
    if let Some(corr) = first_observation_correlation(&rec, h) {
        assert!(corr.iter().all(|v| v.abs() <= 1.0 + 1e-9));
    }

    let out = tmp.path().join("inspect");
    let written = write(&rec, &out).unwrap();
    for name in [
        "steps.csv",
        "core.csv",
        "core.safetensors",
        "saturation.csv",
        "policy.png",
        "hidden.png",
        "gates.png",
        "gates.svg",
    ] {
        assert!(written.files.contains(&out.join(name)), "{name} missing");
    }
    let steps = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), rec.steps.len() + 1);
    assert!(steps.starts_with("episode,step,reward,action_0,probability_0"));
    let core = std::fs::read_to_string(out.join("core.csv")).unwrap();
    assert_eq!(core.lines().next().unwrap().split(',').count(), 2 + 6 * 12);
    let bytes = std::fs::read(out.join("core.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(tensors.tensor("f").unwrap().shape(), [rec.steps.len(), 12]);
    let svg = std::fs::read_to_string(out.join("gates.svg")).unwrap();
    assert_eq!(
        svg.matches("<circle").count(),
        3 * 12,
        "i, f, o: one dot per unit"
    );
    for png in ["policy.png", "hidden.png", "gates.png"] {
        let file = std::fs::File::open(out.join(png)).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert!(info.width > 300 && info.height > 300, "{png}");
    }
}

#[test]
fn gru_gates_reproduce_the_state_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = trained("gru", &tmp.path().join("run"));
    let rec = record(&loaded, 2, 3).unwrap();
    assert_eq!(rec.core_names, ["h", "r", "z", "n"]);
    let mut h_prev = vec![0.0f32; rec.hidden];
    for s in &rec.steps {
        if s.t == 0 {
            h_prev.fill(0.0);
        }
        for u in 0..rec.hidden {
            let (z, n) = (s.core[2][u], s.core[3][u]);
            let hidden = n + z * (h_prev[u] - n);
            assert_eq!(hidden.to_bits(), s.core[0][u].to_bits(), "h, step {}", s.t);
        }
        h_prev.copy_from_slice(&s.core[0]);
    }
}

#[test]
fn without_a_recurrent_core_only_the_steps_and_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = trained("mlp", &tmp.path().join("run"));
    let rec = record(&loaded, 1, 0).unwrap();
    assert!(rec.core_names.is_empty() && rec.steps.iter().all(|s| s.core.is_empty()));
    let written = write(&rec, &tmp.path().join("out")).unwrap();
    let names: Vec<String> = written
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["steps.csv", "policy.png"]);
}
