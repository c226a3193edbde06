//! End-to-end training behaviour: determinism, exact resume, learning, errors, the NaN guard.

use engram::config::{Algo, PolicyKind, TrainConfig};
use engram::run::Summary;
use engram::train::{resume, train};
use std::fs;
use std::path::Path;

mod common;
use common::{assert_resume_is_exact, bytes, evals_without_time, metrics_without_time};
use std::process::Command;

fn small(algo: Algo, steps: u64) -> TrainConfig {
    let mut c = TrainConfig::tuned(algo, "CartPole-v1");
    c.workers = if algo == Algo::A3c { 1 } else { 4 };
    c.total_steps = steps;
    c.seed = 7;
    c.hidden_size = 16;
    c.encoder_layers = vec![16];
    c.log_interval = 1000;
    c.checkpoint_interval = 2000;
    c.eval_interval = 2000;
    c.eval_episodes = 2;
    c
}

#[test]
fn same_seed_gives_identical_metrics_and_checkpoints() {
    for algo in [Algo::A3c, Algo::A2c] {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        train(small(algo, 4000), Some(&a), true).unwrap();
        train(small(algo, 4000), Some(&b), true).unwrap();
        assert_eq!(
            metrics_without_time(&a),
            metrics_without_time(&b),
            "{algo}: metrics differ"
        );
        assert!(
            metrics_without_time(&a).len() >= 4,
            "{algo}: expected a metrics row per 1000 steps"
        );
        assert_eq!(
            evals_without_time(&a),
            evals_without_time(&b),
            "{algo}: evaluations differ"
        );
        assert!(
            bytes(&a, "checkpoints/latest.safetensors")
                == bytes(&b, "checkpoints/latest.safetensors"),
            "{algo}: latest checkpoints differ"
        );
        assert!(
            bytes(&a, "checkpoints/best.safetensors") == bytes(&b, "checkpoints/best.safetensors"),
            "{algo}: best checkpoints differ"
        );
    }
}

#[test]
fn train_n_resume_m_equals_train_n_plus_m() {
    for (algo, policy) in [
        (Algo::A3c, PolicyKind::Lstm),
        (Algo::A3c, PolicyKind::Gru),
        (Algo::A2c, PolicyKind::Lstm),
    ] {
        let mut c = small(algo, 6000);
        c.policy = policy;
        let (first, second) = assert_resume_is_exact(&c, 3000, &format!("{algo}/{policy:?}"));
        assert_eq!(first.env_steps, 3000);
        assert_eq!(second.env_steps, 6000, "counters continue");
        assert!(second.episodes > first.episodes);
    }
}

#[test]
fn short_a3c_lstm_run_beats_random_on_cartpole() {
    // A uniformly random policy averages about 22 on CartPole-v1.
    let tmp = tempfile::tempdir().unwrap();
    let mut c = TrainConfig::tuned(Algo::A3c, "CartPole-v1");
    c.workers = 1;
    c.seed = 1;
    c.total_steps = 40_000;
    c.eval_interval = 10_000;
    c.eval_episodes = 5;
    let summary = train(c, Some(tmp.path()), true).unwrap();
    let mean = summary.final_train_mean_return.unwrap();
    assert!(
        mean > 80.0,
        "100-episode training mean {mean:.1} after 40k steps is not clearly above random (~22)"
    );
    let best = summary.best_eval_mean.unwrap();
    assert!(best > 100.0, "best greedy evaluation {best:.1}");
    let written: Summary = serde_json::from_slice(&bytes(tmp.path(), "summary.json")).unwrap();
    assert_eq!(written.env_steps, summary.env_steps);
}

#[test]
fn two_workers_train_concurrently() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = small(Algo::A3c, 20_000);
    c.workers = 2;
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert!(s.env_steps >= 20_000 && s.env_steps <= 20_000 + 2 * 20);
    assert!(s.episodes > 0);
}

#[test]
fn pendulum_trains_with_a_gaussian_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = TrainConfig::tuned(Algo::A2c, "Pendulum-v1");
    c.total_steps = 4000;
    c.workers = 4;
    c.eval_interval = 2000;
    c.eval_episodes = 1;
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert_eq!(s.episodes, 4000 / 200);
    let ckpt =
        engram::checkpoint::Checkpoint::load(&tmp.path().join("checkpoints/latest.safetensors"))
            .unwrap();
    assert!(ckpt.tensor("log_std").is_some());
}

#[test]
fn nan_stops_training_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    train(small(Algo::A3c, 2000), Some(tmp.path()), true).unwrap();
    let good = bytes(tmp.path(), "checkpoints/latest.safetensors");
    let err = resume(
        tmp.path(),
        &["total_steps=20000".into(), "learning_rate=1e30".into()],
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("non-finite"), "{err}");
    assert!(
        err.contains("learning_rate"),
        "the message suggests a fix: {err}"
    );
    assert!(
        bytes(tmp.path(), "checkpoints/latest.safetensors") == good,
        "the good checkpoint was overwritten"
    );
    let summary: Summary = serde_json::from_slice(&bytes(tmp.path(), "summary.json")).unwrap();
    assert_eq!(summary.stop_reason, "failed");
}

#[test]
fn corrupt_or_foreign_checkpoints_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    train(small(Algo::A3c, 1000), Some(tmp.path()), true).unwrap();
    // Another architecture.
    let config = tmp.path().join("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace("hidden_size = 16", "hidden_size = 32"),
    )
    .unwrap();
    let err = resume(tmp.path(), &[], true).unwrap_err().to_string();
    assert!(err.contains("another architecture"), "{err}");
    fs::write(&config, text).unwrap();
    // Truncated file.
    let latest = tmp.path().join("checkpoints/latest.safetensors");
    let data = fs::read(&latest).unwrap();
    fs::write(&latest, &data[..data.len() / 2]).unwrap();
    let err = resume(tmp.path(), &[], true).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
}

fn engram(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cli_reports_bad_input_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["train", "--env", "CartPol-v1"],
            &["unknown environment id", "CartPole-v1"],
        ),
        (&["train", "--algo", "dqnn"], &["unknown algorithm", "a3c"]),
        (&["train", "--workers", "0"], &["`workers`", "at least 1"]),
        (
            &["train", "--set", "learning_rate=-1"],
            &["`learning_rate`", "positive"],
        ),
        (
            &["train", "--set", "lerning_rate=1"],
            &["unknown field `lerning_rate`", "learning_rate"],
        ),
        (&["train", "--set", "t_max=abc"], &["t_max"]),
        (&["train", "--policy", "transformer"], &["lstm, gru, mlp"]),
        (
            &[
                "train",
                "--set",
                "env_options.is_slipery=false",
                "--env",
                "FrozenLake-v1",
            ],
            &["is_slipery"],
        ),
        (&["train", "--resume", "nowhere"], &["not a run directory"]),
        (
            &["eval", "nowhere"],
            &["neither a run directory nor a checkpoint"],
        ),
    ];
    for (args, needles) in cases {
        let (ok, text) = engram(args, d);
        assert!(!ok, "{args:?} should fail");
        for n in *needles {
            assert!(text.contains(n), "{args:?}: message lacks `{n}`:\n{text}");
        }
        assert!(!text.contains("panicked"), "{args:?} panicked:\n{text}");
    }
}

#[test]
fn cli_trains_evaluates_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (ok, text) = engram(
        &[
            "train",
            "--workers",
            "1",
            "--steps",
            "2000",
            "--out",
            "run",
            "--set",
            "eval_interval=1000",
            "--set",
            "eval_episodes=2",
        ],
        d,
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("hyper-parameters"),
        "train prints the hyper-parameters it uses:\n{text}"
    );
    for f in [
        "config.toml",
        "metrics.csv",
        "evals.csv",
        "summary.json",
        "checkpoints/latest.safetensors",
        "checkpoints/best.safetensors",
    ] {
        assert!(d.join("run").join(f).exists(), "missing {f}");
    }
    let (ok, text) = engram(&["eval", "run", "--episodes", "3", "--json"], d);
    assert!(ok, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["episodes"], 3);
    let (ok, text) = engram(
        &["train", "--resume", "run", "--steps", "3000", "--quiet"],
        d,
    );
    assert!(ok, "{text}");
    let s: Summary =
        serde_json::from_slice(&fs::read(d.join("run/summary.json")).unwrap()).unwrap();
    assert!(s.env_steps >= 3000);
    let (ok, text) = engram(
        &["train", "--workers", "1", "--steps", "100", "--out", "run"],
        d,
    );
    assert!(!ok && text.contains("already holds a run"), "{text}");
}

#[test]
fn evaluation_ends_on_environments_without_a_time_limit() {
    // CliffWalking-v1 has no TimeLimit: an untrained greedy policy may never reach the goal,
    // and evaluation must still end (episodes are cut at MAX_EVAL_EPISODE_STEPS).
    let tmp = tempfile::tempdir().unwrap();
    let mut c = TrainConfig::tuned(Algo::A3c, "CliffWalking-v1");
    c.workers = 1;
    c.total_steps = 2000;
    c.eval_interval = 1000;
    c.eval_episodes = 2;
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert_eq!(s.env_steps, 2000);
    let evals = std::fs::read_to_string(tmp.path().join("evals.csv")).unwrap();
    assert_eq!(evals.lines().count(), 3, "two evaluations:\n{evals}");
}

#[test]
fn normalisation_resumes_exactly_and_reaches_evaluation() {
    for algo in [Algo::A2c, Algo::Ppo, Algo::A3c] {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        let mut c = small(algo, 6000);
        if algo == Algo::Ppo {
            c.t_max = 32;
            c.batch_size = 64;
            c.workers = 4;
            c.lr_schedule = engram::config::LrSchedule::Constant;
            c.clip_range_schedule = engram::config::LrSchedule::Constant;
        }
        c.normalize_observations = true;
        c.normalize_rewards = true;
        train(c.clone(), Some(&whole), true).unwrap();
        c.total_steps = 3000;
        train(c, Some(&split), true).unwrap();
        resume(&split, &["total_steps=6000".to_string()], true).unwrap();
        assert!(
            bytes(&whole, "checkpoints/latest.safetensors")
                == bytes(&split, "checkpoints/latest.safetensors"),
            "{algo}: resumed run with normalisation diverged"
        );
        let best =
            engram::checkpoint::Checkpoint::load(&whole.join("checkpoints/best.safetensors"))
                .unwrap();
        let stats = &best.meta.state["obs_stats"];
        assert_eq!(
            stats["mean"].as_array().map(|m| m.len()),
            Some(4),
            "{algo}: {stats}"
        );
    }
    // Discrete observations are refused with a clear message.
    let mut c = small(Algo::A2c, 1000);
    c.env = "FrozenLake-v1".into();
    c.normalize_observations = true;
    let tmp = tempfile::tempdir().unwrap();
    let err = train(c, Some(tmp.path()), true).unwrap_err().to_string();
    assert!(err.contains("normalize_observations needs a Box"), "{err}");
}

#[test]
fn separate_critic_trains_and_resumes_exactly() {
    for algo in [Algo::A3c, Algo::A2c] {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        let mut c = small(algo, 4000);
        c.separate_critic = true;
        train(c.clone(), Some(&whole), true).unwrap();
        c.total_steps = 2000;
        train(c, Some(&split), true).unwrap();
        resume(&split, &["total_steps=4000".to_string()], true).unwrap();
        let ckpt = bytes(&whole, "checkpoints/latest.safetensors");
        assert!(
            ckpt == bytes(&split, "checkpoints/latest.safetensors"),
            "{algo}: diverged"
        );
        let loaded =
            engram::checkpoint::Checkpoint::load(&whole.join("checkpoints/latest.safetensors"))
                .unwrap();
        assert!(
            loaded.tensor("actor.core.weight_hh").is_some()
                && loaded.tensor("critic.core.weight_hh").is_some()
        );
        assert!(
            loaded.tensor("actor.vf.weight").is_none(),
            "the actor has no value head"
        );
    }
}
