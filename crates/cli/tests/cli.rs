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
        (&["train", "--seeds", "5-2"], &["--seeds 5-2", "write 2-5"]),
        (
            &["train", "--seeds", "a-b"],
            &["`a-b` is not a seed or a range"],
        ),
        (
            &["train", "--seeds", ""],
            &["no seeds given", "--seeds 0-9"],
        ),
        (
            &["train", "--seeds", "0-4,3"],
            &["0-4 and 3 overlap", "give it once"],
        ),
        (&["train", "--seeds", "2,2"], &["2 is given twice"]),
        (
            &["train", "--seeds", "0-1000000"],
            &["more than 100000 seeds", "run fewer"],
        ),
        (
            &["train", "--seeds", "0-2", "--set", "seed=3"],
            &["--seeds gives each run its seed", "remove --set seed"],
        ),
        (
            &["train", "--seeds", "0-2", "--seed", "3"],
            &["--seed", "--seeds"],
        ),
        (&["train", "--jobs", "2"], &["use it with --seeds"]),
        (
            &["train", "--seeds", "0-1", "--jobs", "0"],
            &["--jobs must be at least 1"],
        ),
        (
            &["train", "--set", "total_episodes=0"],
            &["`total_episodes`", "at least 1"],
        ),
        (&["train", "--episodes", "x"], &["--episodes"]),
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
        "monitor.csv",
        "tb",
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

    // The trained Q-network as ONNX: a protobuf ModelProto (field 1, ir_version 8, first).
    let (ok, text) = engram(&["export", "run", "--onnx", "q.onnx"], d);
    assert!(ok && text.contains("outputs: action, q_values"), "{text}");
    let bytes = fs::read(d.join("q.onnx")).unwrap();
    assert_eq!(&bytes[..2], &[0x08, 8]);
    let (ok, text) = engram(&["export", "run", "--onnx", "."], d);
    assert!(!ok && text.contains("is a directory"), "{text}");
    let (ok, text) = engram(&["export", "nowhere", "--onnx", "x.onnx"], d);
    assert!(
        !ok && text.contains("neither a run directory nor a checkpoint"),
        "{text}"
    );
    assert!(!d.join("x.onnx").exists());
}

#[test]
fn an_unexpected_panic_is_reported_as_a_bug_and_the_run_stays_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], inject: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_engram"));
        cmd.args(args).current_dir(tmp.path());
        if inject {
            cmd.env("ENGRAM_TEST_PANIC", "1");
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let train = [
        "train",
        "--env",
        "CartPole-v1",
        "--algo",
        "a2c",
        "--steps",
        "2000",
        "--out",
        "r",
        "--quiet",
        "--set",
        "checkpoint_interval=1000",
    ];
    // Before the first checkpoint: the report says so, and how to start again.
    let (code, err) = run(&train, true);
    assert_eq!(code, Some(101), "{err}");
    assert!(err.contains("internal error, a bug"), "{err}");
    assert!(err.contains("stopped before its first checkpoint"), "{err}");
    fs::remove_dir_all(tmp.path().join("r")).unwrap();
    // With a checkpoint: the report names the resume command, and the resume works.
    assert_eq!(run(&train, false).0, Some(0));
    let resume = ["train", "--resume", "r", "--steps", "3000", "--quiet"];
    let (code, err) = run(&resume, true);
    assert_eq!(code, Some(101), "{err}");
    assert!(err.contains("engram train --resume r --steps N"), "{err}");
    let (code, err) = run(&resume, false);
    assert_eq!(code, Some(0), "{err}");
    let summary: Summary =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("r/summary.json")).unwrap())
            .unwrap();
    assert!(summary.env_steps >= 3000);
}

/// Runs `engram` under `ulimit -f BLOCKS` (512-byte blocks) with SIGXFSZ ignored, so that a
/// write past the limit fails with EFBIG as a full disk fails with ENOSPC.
#[cfg(unix)]
fn engram_with_file_limit(blocks: u32, args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let script = format!("ulimit -f {blocks}; trap '' XFSZ; exec \"$0\" \"$@\"",);
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_engram"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn a_full_disk_stops_the_run_with_the_first_failure_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let base = [
        "train",
        "--env",
        "CartPole-v1",
        "--algo",
        "a2c",
        "--steps",
        "20000",
        "--quiet",
        "--set",
        "eval_interval=0",
    ];
    // With TensorBoard's events on, whichever log fills first (the events, a per-episode log
    // or metrics.csv, as their buffers happen to reach the file) stops the run at once, named.
    let mut args = base.to_vec();
    args.extend(["--out", "tb", "--set", "log_interval=100"]);
    let (code, err) = engram_with_file_limit(4, &args, tmp.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        [
            "tb/tb/events.out.tfevents.",
            "tb/episodes.csv",
            "tb/monitor.csv",
            "tb/metrics.csv"
        ]
        .iter()
        .any(|f| err.contains(&format!("cannot write {f}"))),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let base = [&base[..], &["--set", "tensorboard=false"]].concat();
    // A per-episode log fills first (2 KiB; episodes.csv and monitor.csv, a row per episode,
    // outgrow metrics.csv's four rows; at log_interval 100 its 8 KiB buffer could reach the
    // file first, depending on the digits of its clock columns): the run stops, naming it.
    let mut args = base.to_vec();
    args.extend([
        "--out",
        "logs",
        "--set",
        "log_interval=5000",
        "--set",
        "checkpoint_interval=100000",
    ]);
    let (code, err) = engram_with_file_limit(4, &args, tmp.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot write logs/episodes.csv")
            || err.contains("cannot write logs/monitor.csv"),
        "{err}"
    );
    assert!(err.contains("no checkpoint was written yet"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The checkpoint is the first write too large: named, no temporary file left behind.
    let mut args = base.to_vec();
    args.extend([
        "--out",
        "ckpt",
        "--set",
        "log_interval=100000",
        "--set",
        "checkpoint_interval=1000",
    ]);
    let (code, err) = engram_with_file_limit(8, &args, tmp.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot write ckpt/checkpoints/latest.safetensors"),
        "{err}"
    );
    let left: Vec<_> = fs::read_dir(tmp.path().join("ckpt/checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // With a checkpoint already written, a later failure keeps it and says how to go on.
    let mut args = base.to_vec();
    args.extend([
        "--out",
        "later",
        "--policy",
        "mlp",
        "--set",
        "encoder_layers=[8]",
    ]);
    args.extend([
        "--set",
        "log_interval=10",
        "--set",
        "checkpoint_interval=1000",
    ]);
    let (code, err) = engram_with_file_limit(32, &args, tmp.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot write later/metrics.csv"), "{err}");
    assert!(err.contains("the last checkpoint is kept"), "{err}");
    let (ok, out) = engram(
        &["eval", "later", "--latest", "--episodes", "1"],
        tmp.path(),
    );
    assert!(ok, "{out}");
}

#[test]
fn seeds_train_in_parallel_write_curves_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base = [
        "train",
        "--algo",
        "a2c",
        "--policy",
        "mlp",
        "--set",
        "encoder_layers=[8]",
        "--set",
        "log_interval=200",
        "--set",
        "eval_interval=500",
        "--set",
        "eval_episodes=2",
    ];
    let mut args = base.to_vec();
    args.extend(["--seeds", "0-1,5", "--steps", "1000", "--out", "multi"]);
    let (ok, text) = engram(&args, d);
    assert!(ok, "{text}");
    assert!(text.contains("3 seeds (0-1,5)"), "{text}");
    assert!(
        text.contains("final eval return:") && text.contains("over 3 seeds"),
        "{text}"
    );
    assert!(text.contains("multi/curves.csv (per env_steps)"), "{text}");
    for s in [0, 1, 5] {
        assert!(d.join(format!("multi/seed_{s}/summary.json")).exists());
    }
    let curves = fs::read_to_string(d.join("multi/curves.csv")).unwrap();
    assert!(curves.starts_with("env_steps,seeds,"), "{curves}");
    // Each seed's directory is an ordinary run: eval and resume take it.
    let (ok, text) = engram(&["eval", "multi/seed_5", "--episodes", "2"], d);
    assert!(ok, "{text}");
    let (ok, text) = engram(&["eval", "multi"], d);
    assert!(
        !ok && text.contains("multi-seed run") && text.contains("multi/seed_0"),
        "{text}"
    );
    // The whole directory resumes, with a larger budget for every seed.
    let (ok, text) = engram(
        &[
            "train", "--resume", "multi", "--steps", "1400", "--jobs", "2",
        ],
        d,
    );
    assert!(ok, "{text}");
    for s in [0, 1, 5] {
        let summary: Summary = serde_json::from_slice(
            &fs::read(d.join(format!("multi/seed_{s}/summary.json"))).unwrap(),
        )
        .unwrap();
        assert!(summary.env_steps >= 1400 && summary.seed == s);
    }
    let (ok, text) = engram(&["train", "--resume", "multi"], d);
    assert!(
        !ok && text.contains("every seed") && text.contains("has done its budget"),
        "{text}"
    );
    // --out into a multi-seed or a single run is refused with the fix.
    let (ok, text) = engram(&["train", "--seeds", "0-1", "--out", "multi"], d);
    assert!(
        !ok && text.contains("already holds a multi-seed run"),
        "{text}"
    );
    let (ok, text) = engram(
        &[
            "train", "--algo", "a2c", "--steps", "200", "--out", "single", "--quiet",
        ],
        d,
    );
    assert!(ok, "{text}");
    let (ok, text) = engram(&["train", "--seeds", "0-1", "--out", "single"], d);
    assert!(
        !ok && text.contains("holds a single run, not a multi-seed one"),
        "{text}"
    );
    // An episode budget gives curves per episode.
    let mut args = base.to_vec();
    args.extend([
        "--seeds",
        "0-1",
        "--episodes",
        "6",
        "--out",
        "episodic",
        "--quiet",
    ]);
    let (ok, text) = engram(&args, d);
    assert!(ok, "{text}");
    let curves = fs::read_to_string(d.join("episodic/curves.csv")).unwrap();
    assert!(
        curves.starts_with("episode,seeds,env_steps_mean"),
        "{curves}"
    );
}

/// Ctrl-C (SIGINT) stops every running seed with a checkpoint and starts no new one; the
/// resume finishes them all.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_every_seed_with_a_checkpoint() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let child = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "train",
            "--algo",
            "a2c",
            "--seeds",
            "0-3",
            "--jobs",
            "2",
            "--steps",
            "5000000",
            "--out",
            "multi",
            "--set",
            "checkpoint_interval=500",
            "--set",
            "eval_interval=0",
        ])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the running seeds' first checkpoints.
    let started = Instant::now();
    while !(d
        .join("multi/seed_0/checkpoints/latest.safetensors")
        .exists()
        && d.join("multi/seed_1/checkpoints/latest.safetensors")
            .exists())
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoints"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("2 interrupted") && err.contains("2 not started"),
        "{err}"
    );
    assert!(err.contains("engram train --resume multi"), "{err}");
    for s in [0, 1] {
        let summary: Summary = serde_json::from_slice(
            &fs::read(d.join(format!("multi/seed_{s}/summary.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(summary.stop_reason, "interrupted");
    }
    assert!(!d.join("multi/seed_2").exists() && !d.join("multi/seed_3").exists());
    // A smaller budget finishes them all.
    let (ok, text) = engram(
        &["train", "--resume", "multi", "--steps", "3000", "--quiet"],
        d,
    );
    assert!(ok, "{text}");
    for s in 0..4 {
        assert!(
            d.join(format!("multi/seed_{s}/summary.json")).exists(),
            "seed {s}"
        );
    }
}

/// The frames of a GIF (decoded with the `gif` crate) and its size.
fn decode_gif(path: &Path) -> (usize, u16, u16) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options.read_info(fs::File::open(path).unwrap()).unwrap();
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    (frames, decoder.width(), decoder.height())
}

#[test]
fn eval_records_gifs_and_png_frames_and_refuses_what_cannot_render() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let train = |env: &str, out: &str| {
        let (ok, text) = engram(
            &[
                "train",
                "--env",
                env,
                "--algo",
                "ppo",
                "--steps",
                "512",
                "--out",
                out,
                "--set",
                "eval_interval=0",
                "--quiet",
            ],
            d,
        );
        assert!(ok, "{text}");
    };
    train("CartPole-v1", "cartpole");
    let (ok, text) = engram(
        &[
            "eval",
            "cartpole",
            "--episodes",
            "2",
            "--record",
            "out.gif",
            "--frames",
            "pngs",
            "--json",
        ],
        d,
    );
    assert!(ok, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    // CartPole pays 1 per step: a return is the episode's length; one frame per step plus
    // each episode's first.
    let steps: f64 = v["returns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .sum();
    let (frames, width, height) = decode_gif(&d.join("out.gif"));
    assert_eq!(frames, steps as usize + 2);
    assert_eq!((width, height), (600, 400));
    let pngs = fs::read_dir(d.join("pngs")).unwrap().count();
    assert_eq!(pngs, frames);
    let png = png::Decoder::new(std::io::BufReader::new(
        fs::File::open(d.join("pngs/ep000_00000.png")).unwrap(),
    ))
    .read_info()
    .unwrap();
    assert_eq!((png.info().width, png.info().height), (600, 400));

    // Toy text is drawn as a grid of cells: 16 pixels per character of the 4x4 map.
    train("FrozenLake-v1", "lake");
    let (ok, text) = engram(
        &["eval", "lake", "--episodes", "1", "--record", "lake.gif"],
        d,
    );
    assert!(ok && text.contains("wrote lake.gif"), "{text}");
    let (frames, width, height) = decode_gif(&d.join("lake.gif"));
    assert!(frames >= 2, "{frames}");
    assert_eq!((width, height), (64, 64));

    let cases: &[(&[&str], &str)] = &[
        (&["--record", "out.mp4"], "name the file *.gif"),
        (&["--record", "x.gif", "--fps", "0"], "--fps 0"),
        (&["--render"], "no text rendering"),
    ];
    for (args, wanted) in cases {
        let mut all = vec!["eval", "cartpole", "--episodes", "1"];
        all.extend_from_slice(args);
        let (ok, text) = engram(&all, d);
        assert!(!ok && text.contains(wanted), "{args:?}: {text}");
    }
    train("popgym-RepeatPreviousEasy-v0", "memory");
    let (ok, text) = engram(
        &["eval", "memory", "--episodes", "1", "--record", "m.gif"],
        d,
    );
    assert!(!ok && text.contains("cannot render"), "{text}");
    assert!(!d.join("m.gif").exists());
}

#[test]
fn ls_lists_finished_and_unfinished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (out, seed) in [("runs/a", "1"), ("runs/sweep/b", "2")] {
        let (ok, text) = engram(
            &[
                "train",
                "--algo",
                "ppo",
                "--steps",
                "1024",
                "--seed",
                seed,
                "--out",
                out,
                "--set",
                "eval_interval=512",
                "--set",
                "eval_episodes=2",
                "--quiet",
            ],
            d,
        );
        assert!(ok, "{text}");
    }
    // A run that stopped before its summary: its CSVs speak for it.
    fs::create_dir_all(d.join("runs/c")).unwrap();
    fs::write(
        d.join("runs/c/config.toml"),
        "env = \"Pendulum-v1\"\nalgo = \"a2c\"\nseed = 5\n",
    )
    .unwrap();
    fs::write(
        d.join("runs/c/metrics.csv"),
        "env_steps,wall_seconds,episodes\n1000,2.5,4\n2000,5.0,9\n",
    )
    .unwrap();
    fs::write(
        d.join("runs/c/evals.csv"),
        "env_steps,wall_seconds,mean_return,std_return,episodes\n1000,2.0,-900.5,1,2\n2000,4.0,-700.25,1,2\n",
    )
    .unwrap();
    let (ok, text) = engram(&["ls"], d);
    assert!(ok, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("RUN") && lines[0].contains("BEST EVAL"),
        "{text}"
    );
    let a: Summary =
        serde_json::from_slice(&fs::read(d.join("runs/a/summary.json")).unwrap()).unwrap();
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..4], ["runs/a", "CartPole-v1", "ppo", "1"], "{text}");
    assert_eq!(
        cells[4],
        format!("{},{:03}", a.env_steps / 1000, a.env_steps % 1000)
    );
    assert_eq!(cells[6], format!("{:.2}", a.best_eval_mean.unwrap()));
    assert_eq!(*cells.last().unwrap(), "budget");
    assert!(
        lines[2].starts_with("runs/c ") && lines[2].contains("Pendulum-v1"),
        "{text}"
    );
    let c: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        c[4..],
        ["2,000", "5.0s", "-700.25", "-", "unfinished"],
        "{text}"
    );
    assert!(
        lines[3].starts_with("runs/sweep/b ") && lines[3].contains(" 2 "),
        "{text}"
    );
    // Bad input: clear errors.
    let (ok, text) = engram(&["ls", "nowhere"], d);
    assert!(!ok && text.contains("nowhere is not a directory"), "{text}");
    fs::create_dir(d.join("empty")).unwrap();
    let (ok, text) = engram(&["ls", "empty"], d);
    assert!(!ok && text.contains("no runs under empty"), "{text}");
}

#[test]
fn train_on_ray_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |python: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_engram"))
            .args(args)
            .env("ENGRAM_PYTHON", python)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let ray = ["train", "--env", "CartPole-v1", "--ray", "127.0.0.1:1"];
    let (ok, err) = run("/nonexistent/python3", &ray);
    assert!(
        !ok && err.contains("cannot be started") && err.contains("ENGRAM_PYTHON"),
        "{err}"
    );
    // `false` stands for an interpreter without the engram package.
    let (ok, err) = run("false", &ray);
    assert!(
        !ok && err.contains("cannot import") && err.contains("ray[default]"),
        "{err}"
    );
    let (ok, err) = run(
        "false",
        &["train", "--env", "CartPole-v1", "--ray-workers", "2"],
    );
    assert!(!ok && err.contains("--ray <ADDRESS>"), "{err}");
    let (ok, err) = run("false", &["train", "--workers", "2", "--ray", "auto"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}
