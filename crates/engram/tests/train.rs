//! End-to-end training behaviour: determinism, exact resume, learning, errors, the NaN guard.

use engram::runtime::Summary;
use engram::train::{resume, train};
use engram::RunConfig;
use std::fs;

mod common;
use common::{
    assert_resume_is_exact, bytes, evals_without_time, metrics_without_time, tuned, with,
};

fn small(algo: &str, steps: u64) -> RunConfig {
    let envs = if algo == "a3c" {
        "workers=1"
    } else {
        "n_envs=4"
    };
    with(
        tuned(algo, "CartPole-v1"),
        &[
            envs,
            &format!("total_steps={steps}"),
            "seed=7",
            "hidden_size=16",
            "encoder_layers=[16]",
            "log_interval=1000",
            "checkpoint_interval=2000",
            "eval_interval=2000",
            "eval_episodes=2",
        ],
    )
}

#[test]
fn same_seed_gives_identical_metrics_and_checkpoints() {
    for algo in ["a3c", "a2c"] {
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
    for (algo, policy) in [("a3c", "lstm"), ("a3c", "gru"), ("a2c", "lstm")] {
        let c = with(small(algo, 6000), &[&format!("policy={policy}")]);
        let (first, second) = assert_resume_is_exact(&c, 3000, &format!("{algo}/{policy}"));
        assert_eq!(first.env_steps, 3000);
        assert_eq!(second.env_steps, 6000, "counters continue");
        assert!(second.episodes > first.episodes);
    }
}

#[test]
fn short_a3c_lstm_run_beats_random_on_cartpole() {
    // A uniformly random policy averages about 22 on CartPole-v1.
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("a3c", "CartPole-v1"),
        &[
            "workers=1",
            "seed=1",
            "total_steps=40000",
            "eval_interval=10000",
            "eval_episodes=5",
        ],
    );
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
    let c = with(small("a3c", 20_000), &["workers=2"]);
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert!(s.env_steps >= 20_000 && s.env_steps <= 20_000 + 2 * 20);
    assert!(s.episodes > 0);
}

#[test]
fn concurrent_a3c_saves_never_move_the_latest_checkpoint_backwards() {
    // Sixteen workers on two cores, a checkpoint due every 40 steps: workers race to save.
    // Saves are serialised and an older state never replaces a newer one, so every read of
    // `latest` sees counters at least as high as the read before.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let c = with(
        small("a3c", 30_000),
        &["workers=16", "checkpoint_interval=40", "eval_interval=0"],
    );
    let run = std::thread::spawn(move || train(c, Some(&dir), true));
    let latest = tmp.path().join("checkpoints/latest.safetensors");
    let (mut last, mut reads) = (0u64, 0usize);
    while !run.is_finished() {
        if let Ok(ckpt) = engram::runtime::Checkpoint::load(&latest) {
            let steps = ckpt.meta.state["monitor"]["counters"]["env_steps"]
                .as_u64()
                .unwrap();
            assert!(
                steps >= last,
                "latest went back from {last} to {steps} env steps"
            );
            last = steps;
            reads += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let summary = run.join().unwrap().unwrap();
    assert!(
        reads >= 5,
        "only {reads} reads of a checkpoint during the run"
    );
    let fin = engram::runtime::Checkpoint::load(&latest).unwrap();
    assert_eq!(
        fin.meta.state["monitor"]["counters"]["env_steps"].as_u64(),
        Some(summary.env_steps)
    );
}

#[test]
fn pendulum_trains_with_a_gaussian_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("a2c", "Pendulum-v1"),
        &[
            "total_steps=4000",
            "n_envs=4",
            "eval_interval=2000",
            "eval_episodes=1",
        ],
    );
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert_eq!(s.episodes, 4000 / 200);
    let ckpt =
        engram::runtime::Checkpoint::load(&tmp.path().join("checkpoints/latest.safetensors"))
            .unwrap();
    assert!(ckpt.tensor("log_std").is_some());
}

#[test]
fn nan_stops_training_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    train(small("a3c", 2000), Some(tmp.path()), true).unwrap();
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
    train(small("a3c", 1000), Some(tmp.path()), true).unwrap();
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
    // A run of the previous checkpoint format: refused, naming the versions.
    let latest = tmp.path().join("checkpoints/latest.safetensors");
    let good = fs::read(&latest).unwrap();
    let mut old = engram::runtime::Checkpoint::load(&latest).unwrap();
    old.meta.format = "engram-checkpoint/1".into();
    fs::write(&latest, old.to_bytes().unwrap()).unwrap();
    let err = resume(tmp.path(), &[], true).unwrap_err().to_string();
    assert!(
        err.contains("format engram-checkpoint/1") && err.contains("engram-checkpoint/2"),
        "{err}"
    );
    fs::write(&latest, good).unwrap();
    // Truncated file.
    let data = fs::read(&latest).unwrap();
    fs::write(&latest, &data[..data.len() / 2]).unwrap();
    let err = resume(tmp.path(), &[], true).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn evaluation_ends_on_environments_without_a_time_limit() {
    // CliffWalking-v1 has no TimeLimit: an untrained greedy policy may never reach the goal,
    // and evaluation must still end (episodes are cut at MAX_EVAL_EPISODE_STEPS).
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("a3c", "CliffWalking-v1"),
        &[
            "workers=1",
            "total_steps=2000",
            "eval_interval=1000",
            "eval_episodes=2",
        ],
    );
    let s = train(c, Some(tmp.path()), true).unwrap();
    assert_eq!(s.env_steps, 2000);
    let evals = std::fs::read_to_string(tmp.path().join("evals.csv")).unwrap();
    assert_eq!(evals.lines().count(), 3, "two evaluations:\n{evals}");
}

#[test]
fn normalisation_resumes_exactly_and_reaches_evaluation() {
    for algo in ["a2c", "ppo", "a3c"] {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        let mut c = small(algo, 6000);
        if algo == "ppo" {
            c = with(
                c,
                &[
                    "t_max=32",
                    "batch_size=64",
                    "lr_schedule=constant",
                    "clip_range_schedule=constant",
                ],
            );
        }
        let c = with(
            c,
            &["normalize_observations=true", "normalize_rewards=true"],
        );
        train(c.clone(), Some(&whole), true).unwrap();
        train(with(c, &["total_steps=3000"]), Some(&split), true).unwrap();
        resume(&split, &["total_steps=6000".to_string()], true).unwrap();
        assert!(
            bytes(&whole, "checkpoints/latest.safetensors")
                == bytes(&split, "checkpoints/latest.safetensors"),
            "{algo}: resumed run with normalisation diverged"
        );
        let best =
            engram::runtime::Checkpoint::load(&whole.join("checkpoints/best.safetensors")).unwrap();
        let stats = &best.meta.state["obs_stats"];
        assert_eq!(
            stats["mean"].as_array().map(|m| m.len()),
            Some(4),
            "{algo}: {stats}"
        );
    }
    // Discrete observations are refused with a clear message.
    let mut c = with(small("a2c", 1000), &["normalize_observations=true"]);
    c.common.env = "FrozenLake-v1".into();
    let tmp = tempfile::tempdir().unwrap();
    let err = train(c, Some(tmp.path()), true).unwrap_err().to_string();
    assert!(err.contains("normalize_observations needs a Box"), "{err}");
}

#[test]
fn separate_critic_trains_and_resumes_exactly() {
    for algo in ["a3c", "a2c"] {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        let c = with(small(algo, 4000), &["separate_critic=true"]);
        train(c.clone(), Some(&whole), true).unwrap();
        train(with(c, &["total_steps=2000"]), Some(&split), true).unwrap();
        resume(&split, &["total_steps=4000".to_string()], true).unwrap();
        let ckpt = bytes(&whole, "checkpoints/latest.safetensors");
        assert!(
            ckpt == bytes(&split, "checkpoints/latest.safetensors"),
            "{algo}: diverged"
        );
        let loaded =
            engram::runtime::Checkpoint::load(&whole.join("checkpoints/latest.safetensors"))
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

#[test]
fn a_refused_resume_leaves_the_run_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    train(small("a3c", 1000), Some(tmp.path()), true).unwrap();
    let config = fs::read(tmp.path().join("config.toml")).unwrap();
    let err = resume(tmp.path(), &["hidden_size=32".into()], true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another architecture"), "{err}");
    let err = resume(tmp.path(), &["optimizer=rmsprop".into()], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("optimizer is adam") && !err.contains("corrupt"),
        "{err}"
    );
    assert_eq!(
        fs::read(tmp.path().join("config.toml")).unwrap(),
        config,
        "config.toml was rewritten by a refused resume"
    );
    let s = resume(tmp.path(), &["total_steps=2000".into()], true).unwrap();
    assert!(s.env_steps >= 2000);
}

#[test]
fn resuming_after_a_crash_drops_rows_logged_after_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let c = with(small("a3c", 4000), &["log_interval=500"]);
    train(c, Some(tmp.path()), true).unwrap();
    // As if killed at 4000 steps after the checkpoint at 2000 steps: the rows of 2500-4000
    // exist, the checkpoint says 2000; and an interrupted write left a temporary file.
    let ckpt = tmp.path().join("checkpoints/latest.safetensors");
    let whole_metrics = metrics_without_time(tmp.path());
    let mid = tmp.path().join("mid");
    train(
        with(small("a3c", 2000), &["log_interval=500"]),
        Some(&mid),
        true,
    )
    .unwrap();
    fs::copy(mid.join("checkpoints/latest.safetensors"), &ckpt).unwrap();
    fs::write(
        tmp.path().join("checkpoints/latest.safetensors.1.2.tmp"),
        b"torn",
    )
    .unwrap();
    resume(tmp.path(), &[], true).unwrap();
    let after = metrics_without_time(tmp.path());
    let steps: Vec<&str> = after
        .iter()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut sorted = steps.clone();
    sorted.sort_by_key(|s| s.parse::<u64>().unwrap());
    sorted.dedup();
    assert_eq!(steps, sorted, "rows unique and in order: {steps:?}");
    assert_eq!(
        after, whole_metrics,
        "the resumed log equals the uninterrupted one"
    );
    assert!(!tmp
        .path()
        .join("checkpoints/latest.safetensors.1.2.tmp")
        .exists());
}

#[test]
fn updates_that_make_parameters_non_finite_stop_training_with_a_message() {
    for (algo, set) in [
        ("a2c", "learning_rate=1e300"),
        ("a3c", "learning_rate=1e300"),
        ("reinforce", "learning_rate=1e300"),
        ("ppo", "learning_rate=1e300"),
        ("dqn", "learning_rate=1e300"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = with(tuned(algo, "CartPole-v1"), &[set, "total_steps=3000"]);
        if algo == "a3c" {
            c = with(c, &["workers=1"]);
        }
        if algo == "dqn" {
            c = with(c, &["learning_starts=100", "encoder_layers=[16]"]);
        }
        let err = train(c, Some(tmp.path()), true).unwrap_err().to_string();
        assert!(
            err.contains("non-finite") && err.contains("learning_rate"),
            "{algo}: {err}"
        );
    }
    // An Adam beta that is 1 in f32 is refused before training.
    let mut c = tuned("ppo", "CartPole-v1");
    c.set("adam_beta2=0.999999999").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("f32"));
}

#[test]
fn a_checkpoint_holding_a_nan_is_refused_by_play() {
    let tmp = tempfile::tempdir().unwrap();
    train(small("a2c", 1000), Some(tmp.path()), true).unwrap();
    let latest = tmp.path().join("checkpoints/latest.safetensors");
    let mut ckpt = engram::runtime::Checkpoint::load(&latest).unwrap();
    let t = ckpt
        .tensors
        .iter_mut()
        .find(|t| t.name.ends_with("pi.weight"))
        .unwrap();
    t.data[0] = f32::NAN;
    fs::write(&latest, ckpt.to_bytes().unwrap()).unwrap();
    let err = match engram::play::load(&latest, true) {
        Ok(_) => panic!("a NaN parameter was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not a finite number"), "{err}");
}
