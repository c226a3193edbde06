//! The `engram` command line end to end: training, evaluation, resume, listings, and bad
//! input answered with clear errors.

use engram::runtime::Summary;
use std::fs;
use std::path::Path;
use std::process::Command;

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
            &["train", "--algo", "ppo", "--workers", "4"],
            &["--n-envs 4"],
        ),
        (
            &["train", "--algo", "a2c", "--set", "clip_range=0.1"],
            &["clip_range is an option of ppo; this run uses a2c"],
        ),
        (
            &["train", "--set", "learning_rate=-1"],
            &["`learning_rate`", "positive"],
        ),
        (
            &["train", "--set", "lerning_rate=1"],
            &[
                "unknown field `lerning_rate`",
                "did you mean `learning_rate`",
            ],
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
            &["train", "--workers", "18446744073709551615"],
            &["workers"],
        ),
        (&["train", "--workers", "200000"], &["at most 1024"]),
        (
            &["train", "--set", "hidden_size=100000"],
            &["`hidden_size`", "65536"],
        ),
        (
            &["train", "--set", "encoder_layers=[60000, 60000]"],
            &["`encoder_layers`", "smaller layers"],
        ),
        (
            &["train", "--algo", "ppo", "--n-envs", "100000"],
            &["`n_envs`", "at most 4096"],
        ),
        (
            &[
                "train",
                "--algo",
                "dqn",
                "--set",
                "buffer_size=100000000000",
            ],
            &["buffer_size", "smaller buffer_size"],
        ),
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
    // A budget below the steps done is refused, not silently a no-op.
    let (ok, text) = engram(&["train", "--resume", "run", "--steps", "1000"], d);
    assert!(!ok && text.contains("has done"), "{text}");
    // So is resuming a finished run without a new budget.
    let (ok, text) = engram(&["train", "--resume", "run"], d);
    assert!(!ok && text.contains("has done its budget"), "{text}");
    // eval defaults to the run's own evaluation starts, and says which.
    let (ok, text) = engram(&["eval", "run", "--episodes", "2"], d);
    assert!(ok && text.contains("from seed 0"), "{text}");
    // An explicit empty encoder is not replaced by a default behind the user's back.
    let (ok, text) = engram(
        &[
            "train",
            "--policy",
            "mlp",
            "--set",
            "encoder_layers=[]",
            "--out",
            "other",
        ],
        d,
    );
    assert!(!ok && text.contains("`encoder_layers`"), "{text}");
}

#[test]
fn cli_trains_ppo_and_rejects_bad_values() {
    let bin = env!("CARGO_BIN_EXE_engram");
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "train",
            "--env",
            "CartPole-v1",
            "--algo",
            "ppo",
            "--steps",
            "2000",
            "--quiet",
        ])
        .args(["--set", "eval_interval=0", "--out"])
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Summary =
        serde_json::from_slice(&fs::read(tmp.path().join("run/summary.json")).unwrap()).unwrap();
    assert_eq!(summary.algo, "ppo");
    let out = std::process::Command::new(bin)
        .args(["train", "--algo", "ppo", "--set", "batch_size=7", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("`batch_size`") && stderr.contains("must divide"),
        "{stderr}"
    );
}

#[test]
fn algos_lists_every_algorithm_and_each_ones_options() {
    let tmp = tempfile::tempdir().unwrap();
    let (ok, text) = engram(&["algos"], tmp.path());
    assert!(ok, "{text}");
    for name in ["a3c", "a2c", "ppo", "reinforce"] {
        assert!(text.contains(name), "{text}");
    }
    let (ok, text) = engram(&["algos", "ppo"], tmp.path());
    assert!(ok, "{text}");
    assert!(
        text.contains("clip_range") && text.contains("n_envs") && !text.contains("\n  workers "),
        "{text}"
    );
    let (ok, text) = engram(&["algos", "a3c", "--env", "Pendulum-v1"], tmp.path());
    assert!(
        ok && text.contains("t_max") && text.contains("[16]"),
        "{text}"
    );
}

#[test]
fn dqn_trains_from_the_command_line_and_eval_plays_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (ok, text) = engram(
        &[
            "train",
            "--algo",
            "dqn",
            "--steps",
            "3000",
            "--out",
            "run",
            "--quiet",
            "--set",
            "encoder_layers=[32]",
            "--set",
            "eval_interval=1500",
            "--set",
            "eval_episodes=2",
        ],
        d,
    );
    assert!(ok, "{text}");
    let (ok, text) = engram(&["eval", "run", "--episodes", "3", "--json"], d);
    assert!(ok, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["episodes"], 3);
    let (ok, text) = engram(&["algos", "dqn"], d);
    assert!(
        ok && text.contains("target_update_interval") && !text.contains("use_sde"),
        "{text}"
    );
    let (ok, text) = engram(&["train", "--algo", "dqn", "--env", "Pendulum-v1"], d);
    assert!(!ok && text.contains("use ppo, a2c or a3c"), "{text}");
}
