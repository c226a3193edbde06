//! Chaos: `kill -9` at random moments and resume, for every algorithm `engram algos` lists.
//! After each kill the latest checkpoint is readable and its counters never go backwards; at
//! the end the metrics rows are unique and in order, no temporary file is left, and (one
//! worker, the same budget each time) the final checkpoint is the uninterrupted run's, byte
//! for byte.
//!
//! `ENGRAM_CHAOS_KILLS=N` sets the kills per algorithm (CI: 3); `ENGRAM_CHAOS_SEED` the seed.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn engram() -> Command {
    Command::new(env!("CARGO_BIN_EXE_engram"))
}

fn algorithms() -> Vec<String> {
    let out = engram().arg("algos").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

const STEPS: u64 = 12_000;
const STEPS_TABULAR: u64 = 60_000;

/// Settings that make a run deterministic and checkpoint often.
fn settings(algo: &str) -> Vec<String> {
    // The algorithm's example environment (CartPole-v1 for the deep ones); sampling tabular
    // methods take a million steps a second, so they get a budget a kill can interrupt.
    let spec = engram::algos::spec(algo).ok();
    let env = spec.map(|s| s.example_env).unwrap_or("CartPole-v1");
    let steps = if spec.is_some_and(|s| s.explores) {
        STEPS_TABULAR
    } else {
        STEPS
    };
    let steps = steps.to_string();
    let mut s = vec![
        "--env",
        env,
        "--algo",
        algo,
        "--steps",
        &steps,
        "--seed",
        "3",
        "--quiet",
        "--set",
        "checkpoint_interval=700",
        "--set",
        "log_interval=500",
        "--set",
        "eval_interval=1500",
        "--set",
        "eval_episodes=1",
    ];
    match algo {
        "a3c" => s.extend(["--workers", "1"]),
        // Exact resume of replay-based agents needs the replay in the checkpoint.
        // Small sequences and batches: the default 32 x 80 LSTM update dominated the test.
        "r2d2" => s.extend([
            "--set",
            "save_replay_buffer=true",
            "--set",
            "batch_size=8",
            "--set",
            "sequence_length=20",
            "--set",
            "burn_in=5",
            "--set",
            "hidden_size=16",
        ]),
        "dqn" => s.extend([
            "--set",
            "save_replay_buffer=true",
            "--set",
            "encoder_layers=[32]",
            "--set",
            "buffer_size=5000",
        ]),
        "sac" | "td3" | "ddpg" => s.extend([
            "--set",
            "save_replay_buffer=true",
            "--set",
            "encoder_layers=[32]",
            "--set",
            "buffer_size=5000",
            "--set",
            "batch_size=64",
        ]),
        _ => {}
    }
    s.into_iter().map(String::from).collect()
}

fn env_steps(dir: &Path) -> Option<u64> {
    let meta = fs::read_to_string(dir.join("checkpoints/latest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&meta).ok()?;
    v["state"]["monitor"]["counters"]["env_steps"].as_u64()
}

/// Runs `args` and kills it with SIGKILL after `delay`; returns whether it finished first.
fn run_or_kill(args: &[String], dir: &Path, delay: Duration) -> bool {
    let mut child = engram()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            // A kill between the final checkpoint's tensors and its latest.json leaves a run
            // whose checkpoint holds the whole budget while latest.json says less: `--resume`
            // then says the budget is done, which is what a user would see. The run's final
            // checkpoint is compared with the uninterrupted one afterwards either way.
            let done = args.iter().any(|a| a == "--resume") && err.contains("done its budget");
            assert!(status.success() || done, "engram {}: {err}", args.join(" "));
            return true;
        }
        if started.elapsed() >= delay {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills `algo`'s run `kills` times at pseudo-random moments (from `seed`), resumes it each
/// time and checks it ends as the uninterrupted run; returns the kills made.
fn chaos_one(algo: &str, kills: usize, mut seed: u64, tmp: &Path) -> usize {
    let mut next_delay = |max_ms: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Duration::from_millis(5 + (seed >> 33) % max_ms)
    };
    let base = settings(algo);
    let reference = tmp.join(format!("{algo}_whole"));
    let mut args = vec!["train".to_string(), "--out".into()];
    args.push(reference.display().to_string());
    args.extend(base.clone());
    let started = Instant::now();
    assert!(run_or_kill(&args, tmp, Duration::from_secs(600)));
    let duration_ms = started.elapsed().as_millis().max(20) as u64;
    let dir = tmp.join(format!("{algo}_chaos"));
    let (mut killed, mut last_steps, mut finished) = (0, 0u64, false);
    while !finished {
        // A kill after the final checkpoint (while summary.json is written) leaves a
        // finished run: its latest checkpoint holds the whole budget.
        let budget = if base.contains(&STEPS_TABULAR.to_string()) {
            STEPS_TABULAR
        } else {
            STEPS
        };
        if env_steps(&dir).is_some_and(|s| s >= budget) {
            // What a user does next: `--resume` says the budget is done (and clears the
            // temporary file the kill may have left).
            let out = engram()
                .args(["train", "--resume"])
                .arg(&dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && err.contains("done its budget"),
                "{err}"
            );
            break;
        }
        let resuming = dir.join("checkpoints/latest.safetensors").exists();
        let mut args = vec!["train".to_string()];
        if resuming {
            args.extend(["--resume".into(), dir.display().to_string()]);
        } else {
            // Killed before its first checkpoint: nothing to resume, start again.
            let _ = fs::remove_dir_all(&dir);
            args.extend(["--out".into(), dir.display().to_string()]);
            args.extend(base.clone());
        }
        let delay = if killed < kills {
            next_delay(duration_ms / 2 + 1)
        } else {
            Duration::from_secs(600)
        };
        finished = run_or_kill(&args, tmp, delay);
        if !finished {
            killed += 1;
        }
        if let Some(steps) = env_steps(&dir) {
            assert!(
                steps >= last_steps,
                "{algo}: env steps went back from {last_steps} to {steps}"
            );
            last_steps = steps;
            // The checkpoint a kill left is readable.
            let out = engram()
                .args(["eval", "--latest", "--episodes", "1"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{algo}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    killed
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_result() {
    let kills: usize = std::env::var("ENGRAM_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("ENGRAM_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    // The algorithms shared out over the cores (each run is one process on one core); each
    // algorithm's kill moments come from its own seed, whichever thread runs it.
    let algos = algorithms();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let total = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(algo) = algos.get(at) else {
                    break;
                };
                let own_seed = seed ^ (at as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let killed = chaos_one(algo, kills, own_seed, tmp.path());
                total.fetch_add(killed, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    let total_kills = total.into_inner();
    eprintln!("chaos: {total_kills} kills, every run resumed to the uninterrupted result");
}

/// A multi-seed run killed at random moments and resumed with `--resume OUT` ends with each
/// seed's final checkpoint byte-identical to a single run with that `--seed`: the pool, the
/// per-seed resume and the restart of seeds killed before their first checkpoint change
/// nothing in what each seed computes.
#[test]
fn killed_multi_seed_runs_resume_to_the_single_runs() {
    let kills: usize = std::env::var("ENGRAM_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed: u64 = std::env::var("ENGRAM_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let algo = "a2c";
    // The shared settings without `--seed` (each run gets its own).
    let base: Vec<String> = {
        let s = settings(algo);
        let at = s.iter().position(|a| a == "--seed").unwrap();
        s.iter()
            .enumerate()
            .filter(|&(i, _)| i != at && i != at + 1)
            .map(|(_, a)| a.clone())
            // `--seeds` turns TensorBoard, each seed's curve.png and (step budgets) its
            // episode files off unless they are set, and the checkpoint holds the config: set
            // them for the single runs too, so both configs are the same.
            .chain(
                [
                    "--set",
                    "tensorboard=false",
                    "--set",
                    "curve_png=false",
                    "--set",
                    "episode_logs=false",
                ]
                .into_iter()
                .map(String::from),
            )
            .collect()
    };
    let seeds = [0u64, 1, 2];
    let mut duration_ms = 20;
    for s in seeds {
        let mut args = vec!["train".to_string(), "--out".into(), format!("single_{s}")];
        args.extend(base.clone());
        args.extend(["--seed".into(), s.to_string()]);
        let started = Instant::now();
        assert!(run_or_kill(&args, tmp.path(), Duration::from_secs(600)));
        duration_ms += started.elapsed().as_millis() as u64;
    }
    let out = tmp.path().join("multi");
    let (mut killed, mut finished) = (0, false);
    while !finished {
        let mut args = vec!["train".to_string()];
        if out.join("seeds.toml").exists() {
            args.extend(["--resume".into(), out.display().to_string()]);
        } else {
            // Killed before the multi-seed directory was laid out: start again.
            let _ = fs::remove_dir_all(&out);
            args.extend(["--out".into(), out.display().to_string()]);
            args.extend(base.clone());
            args.extend(["--seeds".into(), "0-2".into(), "--jobs".into(), "2".into()]);
        }
        let delay = if killed < kills {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            Duration::from_millis(5 + (seed >> 33) % (duration_ms / 2 + 1))
        } else {
            Duration::from_secs(600)
        };
        finished = run_or_kill(&args, tmp.path(), delay);
        if !finished {
            killed += 1;
            // Killed after writing its last file, before exiting: the run is complete (and a
            // resume would say so, refusing to continue past the budget).
            finished = out.join("curves.csv").exists() && out.join("seeds_summary.json").exists();
        }
    }
    assert!(out.join("curves.csv").exists());
    for s in seeds {
        let ours = fs::read(out.join(format!("seed_{s}/checkpoints/latest.safetensors"))).unwrap();
        let theirs = fs::read(
            tmp.path()
                .join(format!("single_{s}/checkpoints/latest.safetensors")),
        )
        .unwrap();
        assert!(
            ours == theirs,
            "seed {s}: after {killed} kills the multi-seed run's final checkpoint differs from the single run's"
        );
    }
    eprintln!("chaos: {killed} kills of a 3-seed run, every seed resumed to its single run");
}
