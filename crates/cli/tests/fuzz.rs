//! Random command lines for every algorithm `engram algos` lists: each must end in success or
//! in a clear error (non-zero exit, an `error:` line), never in a panic, an abort, a signal or
//! a hang. The keys and their types come from `engram algos NAME`, so a new algorithm is
//! covered without anyone remembering to.
//!
//! Besides `--set` keys, the generator mixes in `--episodes` and `--seeds` (with `--jobs`),
//! valid and invalid. Every fourth case is valid by construction (the algorithm's example
//! environment, one key at its printed default) and must train.
//!
//! `ENGRAM_FUZZ_CASES=N` sets the cases per algorithm (CI: 12); `ENGRAM_FUZZ_SEED` the seed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small deterministic generator (SplitMix64): the test needs no crate for it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn engram() -> Command {
    Command::new(env!("CARGO_BIN_EXE_engram"))
}

/// `(algorithm, [(key, default as printed)])` from `engram algos` and `engram algos NAME`.
fn algorithms() -> Vec<(String, Vec<(String, String)>)> {
    let list = engram().arg("algos").output().unwrap();
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    let names: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    assert!(names.len() >= 5, "engram algos lists {names:?}");
    names
        .into_iter()
        .map(|name| {
            let out = engram().args(["algos", &name]).output().unwrap();
            let keys = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("  "))
                .filter_map(|l| {
                    let key = l.split_whitespace().next()?.to_string();
                    // The default is the last bracketed part: `... [[64, 64]]` -> `[64, 64]`.
                    let default = l.rsplit_once(" [")?.1.strip_suffix(']')?.to_string();
                    Some((key, default))
                })
                .collect();
            (name, keys)
        })
        .collect()
}

/// A value for a key whose default printed as `default`: often valid, often not.
fn value(rng: &mut Rng, default: &str) -> String {
    let ints = [
        "0",
        "1",
        "2",
        "3",
        "7",
        "16",
        "-1",
        "-5",
        "100000",
        "99999999999",
        "1.5",
        "\"x\"",
        "[]",
    ];
    let floats = [
        "0.0", "1.0", "0.5", "0.99", "1e-3", "-1.0", "1.5", "1e300", "nan", "inf", "-inf", "3",
        "\"x\"",
    ];
    let bools = ["true", "false", "1", "\"yes\""];
    let strings = [
        "lstm",
        "gru",
        "mlp",
        "tanh",
        "relu",
        "adam",
        "rmsprop",
        "constant",
        "linear",
        "step",
        "episode",
        "onehot",
        "embedding",
        "bogus",
        "\"\"",
    ];
    let arrays = [
        "[]",
        "[8]",
        "[0]",
        "[8, 8]",
        "[16, -1]",
        "[1000000]",
        "\"x\"",
    ];
    if default == "true" || default == "false" {
        rng.pick(&bools).to_string()
    } else if default.starts_with('[') {
        rng.pick(&arrays).to_string()
    } else if default.starts_with('"') {
        rng.pick(&strings).to_string()
    } else if default.contains('.') || default.contains('e') {
        rng.pick(&floats).to_string()
    } else {
        rng.pick(&ints).to_string()
    }
}

/// Runs one command line with a deadline; returns `(exit code, stderr)`, panicking on a hang,
/// a signal, a panic or an error without a message.
fn run_case(args: &[String], dir: &Path, what: &str) -> (Option<i32>, String) {
    let mut child = engram()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // Generous: a loaded machine slows the cases down several times.
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("{what}: hung for 300 s: engram {}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut stderr);
    }
    let line = format!("engram {}", args.join(" "));
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: panic: {line}\n{stderr}"
    );
    match status.code() {
        Some(0) => {}
        Some(_) => assert!(
            stderr.contains("error:"),
            "{what}: failed without an error message: {line}\n{stderr}"
        ),
        None => panic!("{what}: killed by a signal (abort?): {line}\n{stderr}"),
    }
    (status.code(), stderr)
}

/// Keys the cases never set: the command line's own, and evaluation (kept short).
fn skipped_key(key: &str) -> bool {
    matches!(key, "env" | "algo" | "env_options" | "total_steps") || key.contains("eval")
}

/// Replay learners start from a small network and batch: the cases test what the settings
/// do, not how fast a 256x256 update is in the test profile. (Tabular methods refuse network
/// keys: they get none.)
fn small_replay_learner(keys: &[(String, String)]) -> Vec<String> {
    let has = |key: &str| keys.iter().any(|(k, _)| k == key);
    if has("buffer_size") && has("batch_size") {
        ["--set", "encoder_layers=[32]", "--set", "batch_size=32"]
            .map(String::from)
            .to_vec()
    } else {
        Vec::new()
    }
}

/// `cases` random command lines for one algorithm, every fourth a valid one; returns
/// `(trained, refused)`.
fn fuzz_algorithm(
    algo: &str,
    keys: &[(String, String)],
    cases: usize,
    envs: &[&str],
    rng: &mut Rng,
    dir: &Path,
) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    assert!(keys.len() > 10, "{algo}: keys {keys:?}");
    for case in 0..cases {
        // Every fourth case is a valid one: the algorithm's own example environment and one
        // key set to the default `engram algos NAME` prints for it. It must train: a printed
        // default that does not read back, or an algorithm that fails on its own example, is
        // a bug (and most random cases are refused, so these keep every algorithm training).
        if case % 4 == 3 {
            let usable: Vec<&(String, String)> = keys
                .iter()
                .filter(|(k, d)| !skipped_key(k) && !d.is_empty() && d != "{}")
                .collect();
            let (key, default) = rng.pick(&usable);
            let mut args: Vec<String> = ["train", "--quiet", "--algo", algo, "--steps", "1500"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.extend(["--out".into(), format!("run_{algo}_{case}")]);
            args.extend(small_replay_learner(keys));
            args.extend(["--set".into(), format!("{key}={default}")]);
            let (code, stderr) = run_case(&args, dir, &format!("{algo} case {case}"));
            assert_eq!(
                code,
                Some(0),
                "{algo} case {case} (a valid one) did not train: engram {}\n{stderr}",
                args.join(" ")
            );
            ok += 1;
            continue;
        }
        let env = rng.pick(envs).to_string();
        let out = format!("run_{algo}_{case}");
        let mut args: Vec<String> = [
            "train", "--quiet", "--algo", algo, "--env", &env, "--out", &out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A small budget keeps each case short: settings that would make it long (huge
        // rollouts) are refused or cut by it.
        args.extend(
            [
                "--steps",
                "1500",
                "--set",
                "eval_interval=700",
                "--set",
                "eval_episodes=1",
            ]
            .map(String::from),
        );
        // The random keys below may override the small network and batch.
        args.extend(small_replay_learner(keys));
        for _ in 0..(1 + rng.next() % 3) {
            let (key, default) = rng.pick(keys).clone();
            if skipped_key(&key) {
                continue;
            }
            args.push("--set".into());
            args.push(format!("{key}={}", value(rng, &default)));
        }
        if rng.next().is_multiple_of(8) {
            args.push("--set".into());
            args.push("no_such_key=1".into());
        }
        // Budgets in episodes, and many seeds at once: valid and invalid spellings.
        if rng.next().is_multiple_of(6) {
            let episodes = ["0", "1", "3", "40", "-2", "x"];
            args.extend(["--episodes".into(), rng.pick(&episodes).to_string()]);
        }
        if rng.next().is_multiple_of(6) {
            let seeds = [
                "0-1", "3,5", "0,2-3", "2-1", "a-b", "", "1,1", "0-4,3", "0-200000", "7",
            ];
            args.extend(["--seeds".into(), rng.pick(&seeds).to_string()]);
            if rng.next().is_multiple_of(2) {
                let jobs = ["0", "1", "2", "64"];
                args.extend(["--jobs".into(), rng.pick(&jobs).to_string()]);
            }
        }
        let (code, _) = run_case(&args, dir, &format!("{algo} case {case}"));
        if code == Some(0) {
            ok += 1;
        } else {
            refused += 1;
        }
    }
    (ok, refused)
}

#[test]
fn random_command_lines_succeed_or_fail_clearly_for_every_algorithm() {
    let cases: usize = std::env::var("ENGRAM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("ENGRAM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let envs = [
        "CartPole-v1",
        "Pendulum-v1",
        "FrozenLake-v1",
        "popgym-RepeatPreviousEasy-v0",
        "MountainCarContinuous-v0",
    ];
    let tmp = tempfile::tempdir().unwrap();
    // One generator per algorithm (seeded by its place in the list), and the algorithms
    // shared out over the cores: each engram process uses one, and the cases do not depend
    // on which thread runs them.
    let algos = algorithms();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let counts = std::sync::Mutex::new((0usize, 0usize, Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((algo, keys)) = algos.get(at) else {
                    break;
                };
                let mut rng = Rng(seed ^ (at as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let (ok, refused) = fuzz_algorithm(algo, keys, cases, &envs, &mut rng, tmp.path());
                let mut c = counts.lock().unwrap();
                c.0 += ok;
                c.1 += refused;
                c.2.push(format!("{algo} {ok}/{}", ok + refused));
            });
        }
    });
    let (ok, refused, per_algorithm) = counts.into_inner().unwrap();
    eprintln!(
        "fuzzed command lines: {ok} trained, {refused} refused with a message (trained per \
         algorithm: {})",
        per_algorithm.join(", ")
    );
    assert!(ok > 0 && refused > 0, "{ok} ok, {refused} refused");
}
