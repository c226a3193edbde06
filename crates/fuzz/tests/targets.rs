//! The fuzz targets on stable: seeded, generated and mutated inputs for each, for every
//! algorithm in the registry and every registered environment. A panic fails the test and
//! leaves its input in `target/fuzz-failures/` (replay it with `cargo +nightly fuzz run
//! TARGET FILE`, or with this test's `ENGRAM_FUZZ_REPLAY=FILE`).
//!
//! `ENGRAM_FUZZ_CASES=N` sets the cases per target (CI: 300; config: per algorithm), and
//! `ENGRAM_FUZZ_SEED` the seed. The mutated-checkpoint test lives in `checkpoints.rs`.

use engram::algos::{RunConfig, REGISTRY};
use engram_fuzz::{env_ids, mutate, save_failure, Outcome, SET_SEPARATOR};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn cases(default: usize) -> usize {
    std::env::var("ENGRAM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rng(salt: u64) -> ChaCha8Rng {
    let seed: u64 = std::env::var("ENGRAM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2026);
    ChaCha8Rng::seed_from_u64(seed ^ salt)
}

/// Runs `target` on every input; returns how many panicked (their inputs are saved).
fn run(
    name: &str,
    target: fn(&[u8]) -> Outcome,
    inputs: impl IntoIterator<Item = Vec<u8>>,
) -> usize {
    let mut panics = 0;
    let mut total = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    for (i, input) in inputs.into_iter().enumerate() {
        total += 1;
        if let Ok(outcome) = catch_unwind(AssertUnwindSafe(|| target(&input))) {
            *outcomes.entry(outcome).or_insert(0) += 1;
        } else {
            panics += 1;
            let file = save_failure(&format!("{name}-{i}.bin"), &input);
            eprintln!(
                "{name}: case {i} panicked; input saved to {}",
                file.display()
            );
        }
    }
    eprintln!("{name}: {total} cases, {panics} panics; {outcomes:?}");
    panics
}

/// Byte-level damage to a text input, as a fuzzer would do.
fn damage(mut bytes: Vec<u8>, rng: &mut ChaCha8Rng, dictionary: &[&str]) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..4) {
            0 if !bytes.is_empty() => {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let end = rng.gen_range(at..=bytes.len().min(at + 8));
                bytes.drain(at..end);
            }
            _ => {
                let word = dictionary.choose(rng).copied().unwrap_or("=");
                bytes.splice(at..at, word.bytes());
            }
        }
    }
    bytes
}

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e-3",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "-inf",
    "true",
    "false",
    "\"\"",
    "\"x\"",
    "\"lstm\"",
    "\"mlp\"",
    "\"adam\"",
    "\"rmsprop\"",
    "\"torch\"",
    "\"linear\"",
    "[]",
    "[0]",
    "[64, 64]",
    "[100000, 100000]",
    "[1e9]",
    "{}",
    "{ success_rate = nan }",
    "{ is_slippery = false }",
    "9223372036854775807",
    "18446744073709551615",
    "4096",
    "1000000",
    "0.999999999",
    "1.0000001",
];

fn all_keys() -> Vec<String> {
    let mut keys: Vec<String> = REGISTRY
        .iter()
        .filter_map(|spec| RunConfig::tuned(spec.name, "CartPole-v1").ok())
        .flat_map(|c| c.keys().into_iter().map(String::from).collect::<Vec<_>>())
        .collect();
    keys.extend(["learning_rat", "env_options.success_rate", "env_options.g"].map(String::from));
    keys.sort();
    keys.dedup();
    keys
}

/// A value for `key` near its default (so that most inputs get through parsing to validation
/// and beyond), or from [`VALUES`] (any type, any range).
fn value_for(rng: &mut ChaCha8Rng, default: Option<&toml::Value>) -> String {
    let near = match default {
        Some(toml::Value::Integer(i)) => {
            let f = *[0i64, 1, 2, 10, -1].choose(rng).unwrap_or(&1);
            Some(i.saturating_mul(f).to_string())
        }
        Some(toml::Value::Float(x)) => {
            let f = *[0.0, 0.5, 2.0, 10.0, -1.0, 1e-9]
                .choose(rng)
                .unwrap_or(&1.0);
            Some(format!("{:?}", x * f))
        }
        Some(toml::Value::Boolean(b)) => Some((!b).to_string()),
        Some(v @ toml::Value::Array(_)) if rng.gen_bool(0.5) => Some(v.to_string()),
        _ => None,
    };
    match near {
        Some(v) if rng.gen_bool(0.6) => v,
        _ => VALUES.choose(rng).copied().unwrap_or("0").to_string(),
    }
}

/// A config input for `engram_fuzz::config`: a few `key = value` lines of a file, then a few
/// `--set` lines; mostly the algorithm's own keys, sometimes any algorithm's (foreign keys
/// must be refused by name).
fn config_input(rng: &mut ChaCha8Rng, algo: u8, all_keys: &[String]) -> Vec<u8> {
    let spec = &REGISTRY[algo as usize % REGISTRY.len()];
    let defaults = RunConfig::tuned(spec.name, "CartPole-v1")
        .map(|c| c.to_table())
        .unwrap_or_default();
    let own: Vec<String> = defaults.keys().cloned().collect();
    let pick = |rng: &mut ChaCha8Rng| {
        let keys = if rng.gen_bool(0.85) { &own } else { all_keys };
        let key = keys.choose(rng).cloned().unwrap_or_default();
        let value = value_for(rng, defaults.get(&key));
        (key, value)
    };
    let mut text = String::new();
    let mut used = Vec::new();
    for _ in 0..rng.gen_range(0..3) {
        let (key, value) = pick(rng);
        if !used.contains(&key) {
            text += &format!("{key} = {value}\n");
            used.push(key);
        }
    }
    if rng.gen_bool(0.7) {
        text += SET_SEPARATOR;
        for _ in 0..rng.gen_range(1..3) {
            let (key, value) = pick(rng);
            text += &format!("{key}={value}\n");
        }
    }
    let mut bytes = vec![algo, rng.gen()];
    bytes.extend(text.into_bytes());
    bytes
}

#[test]
fn config_target_never_panics_for_any_algorithm() {
    let keys = all_keys();
    let dictionary: Vec<&str> = VALUES
        .iter()
        .copied()
        .chain(["=", "\n", "[", "]", "\"", ".", "#"])
        .collect();
    let mut panics = 0;
    for (a, spec) in REGISTRY.iter().enumerate() {
        let mut rng = rng(a as u64);
        let inputs: Vec<Vec<u8>> = (0..cases(120))
            .map(|_| {
                let input = config_input(&mut rng, a as u8, &keys);
                if rng.gen_bool(0.25) {
                    damage(input, &mut rng, &dictionary)
                } else {
                    input
                }
            })
            .collect();
        panics += run(
            &format!("config-{}", spec.name),
            engram_fuzz::config,
            inputs,
        );
    }
    assert_eq!(panics, 0, "config inputs panicked (see above)");
}

#[test]
fn config_target_accepts_what_it_should() {
    // A guard on the harness itself: valid inputs must get through to the round trip, or
    // the target would test nothing but early returns.
    for (a, spec) in REGISTRY.iter().enumerate() {
        let mut input = vec![a as u8, 0];
        input.extend(format!("seed = 5{SET_SEPARATOR}total_steps=1000\n").bytes());
        // The algorithm's example environment (CartPole-v1 for the deep ones).
        let env = env_ids()
            .iter()
            .position(|id| id == spec.example_env)
            .unwrap();
        input[1] = env as u8;
        assert_eq!(
            engram_fuzz::config(&input),
            Outcome::Accepted,
            "{}",
            spec.name
        );
    }
}

const OPTION_NAMES: &[&str] = &[
    "desc",
    "fickle_passenger",
    "fickle_probability",
    "g",
    "goal_velocity",
    "is_rainy",
    "is_slippery",
    "map_name",
    "max_episode_steps",
    "natural",
    "p",
    "rainy_probability",
    "render_mode",
    "reward_schedule",
    "sab",
    "success_rate",
    "sutton_barto_reward",
    "nonsense",
];

const OPTION_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1e300",
    "true",
    "false",
    "4x4",
    "8x8",
    "\"4x4\"",
    "[\"SFFF\", \"FHFH\", \"FFFH\", \"HFFG\"]",
    "[\"S\"]",
    "[\"SG\", \"G\"]",
    "[]",
    "[1, 0, -1]",
    "[1e300, -1e300]",
    "ansi",
    "rgb_array",
    "human",
    "9223372036854775807",
    "18446744073709551615",
    "\"\"",
];

#[test]
fn env_options_target_never_panics_for_any_environment() {
    let ids = env_ids();
    let dictionary: Vec<&str> = OPTION_VALUES
        .iter()
        .chain(OPTION_NAMES)
        .copied()
        .chain(["=", "\n"])
        .collect();
    let mut rng = rng(101);
    let n = cases(300).max(ids.len() * 4);
    let inputs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut bytes = vec![(i % ids.len()) as u8];
            for _ in 0..rng.gen_range(0..4) {
                let name = OPTION_NAMES.choose(&mut rng).copied().unwrap_or("g");
                let value = OPTION_VALUES.choose(&mut rng).copied().unwrap_or("0");
                bytes.extend(format!("{name}={value}\n").bytes());
            }
            if rng.gen_bool(0.2) {
                damage(bytes, &mut rng, &dictionary)
            } else {
                bytes
            }
        })
        .collect();
    assert_eq!(run("env_options", engram_fuzz::env_options, inputs), 0);
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

#[test]
fn replay_json_target_never_panics() {
    let seeds = corpus("replay_json");
    assert!(seeds.len() >= 5, "the replay_json corpus is missing");
    let mut rng = rng(202);
    let mut inputs = seeds.clone();
    for _ in 0..cases(300) {
        let seed = seeds.choose(&mut rng).cloned().unwrap_or_default();
        let input = match serde_json::from_slice::<serde_json::Value>(&seed) {
            Ok(mut value) if rng.gen_bool(0.8) => {
                for _ in 0..rng.gen_range(1..4) {
                    mutate::mutate_json(&mut value, &mut rng);
                }
                serde_json::to_vec(&value).unwrap_or_default()
            }
            _ => damage(
                seed,
                &mut rng,
                &["{", "}", "[", "]", ",", "\"", "1e400", "null"],
            ),
        };
        inputs.push(input);
    }
    assert_eq!(run("replay_json", engram_fuzz::replay_json, inputs), 0);
}

#[test]
fn replaying_a_saved_failure() {
    // `ENGRAM_FUZZ_REPLAY=target/fuzz-failures/config-dqn-12.bin cargo test -p engram-fuzz
    // replaying` reruns one saved input outside catch_unwind, with its backtrace.
    let Ok(file) = std::env::var("ENGRAM_FUZZ_REPLAY") else {
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = PathBuf::from(&file);
    let path = if path.exists() { path } else { root.join(path) };
    let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let name = PathBuf::from(&file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target: fn(&[u8]) -> Outcome = if name.starts_with("config") {
        engram_fuzz::config
    } else if name.starts_with("env_options") {
        engram_fuzz::env_options
    } else if name.starts_with("replay_json") {
        engram_fuzz::replay_json
    } else {
        engram_fuzz::checkpoint
    };
    eprintln!("{:?}", target(&input));
}
