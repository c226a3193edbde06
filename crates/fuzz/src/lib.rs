//! engram's fuzz targets: each takes arbitrary bytes and must return, never panic, abort or
//! hang, whatever the bytes. They are plain functions so that two harnesses share them:
//!
//! * `cargo test -p engram-fuzz` (stable, in CI) runs each over its seed corpus in
//!   `crates/fuzz/corpus/` and a few hundred seeded mutations of it, under `catch_unwind`;
//!   `ENGRAM_FUZZ_CASES` sets how many.
//! * `cargo +nightly fuzz run TARGET` (from `fuzz/`, libFuzzer with coverage guidance) calls the
//!   same functions; see `fuzz/README.md`.
//!
//! Beyond "no panic", the targets check properties where the input was accepted: a config
//! that validated serialises and reads back to itself; a checkpoint that loaded plays.
//!
//! [`mutate`] is the checkpoint mutator (bit flips, truncation, header and metadata edits,
//! non-finite weights) behind the mutated-checkpoint test.

pub mod mutate;

use engram::algos::{RunConfig, REGISTRY};
use engram::runtime::Checkpoint;
use engram_env::registry::{self, Options};
use engram_env::Env;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// How far an input got: refused at a named stage (with a clear error, which is fine), or
/// accepted all the way (parsed, validated, made, played).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Refused(&'static str),
    Accepted,
}

/// The line that separates a config input's TOML part from its `--set` lines.
pub const SET_SEPARATOR: &str = "\n--set\n";

/// Environment ids in a fixed order, for inputs that pick one by a byte.
pub fn env_ids() -> Vec<String> {
    let mut ids: Vec<String> = registry::specs().into_iter().map(|s| s.id).collect();
    ids.sort();
    ids
}

/// Writes an input that made a target panic to `target/fuzz-failures/<file_name>` (for
/// `ENGRAM_FUZZ_REPLAY`), and returns its path.
pub fn save_failure(file_name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(file_name);
    let _ = std::fs::write(&file, bytes);
    file
}

/// Steps bounded so that no input makes a target slow: a fuzzer wants thousands a second.
const MAX_PLAY_STEPS: usize = 200;

/// Config input: byte 0 picks the algorithm, byte 1 the environment, the rest is UTF-8 text:
/// a TOML table (a `--config` file), then optionally [`SET_SEPARATOR`] and one `--set`
/// assignment per line. Goes through what `engram train` does before it trains: the tuned
/// defaults, the file, the assignments, `validate`, the environment and the algorithm's
/// check against its spaces, and `config.toml`'s text.
pub fn config(data: &[u8]) -> Outcome {
    let [a, e, rest @ ..] = data else {
        return Outcome::Refused("too short");
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return Outcome::Refused("not UTF-8");
    };
    let algo = REGISTRY[*a as usize % REGISTRY.len()].name;
    let ids = env_ids();
    let env = &ids[*e as usize % ids.len()];
    let (file, sets) = text.split_once(SET_SEPARATOR).unwrap_or((text, ""));
    let Ok(mut config) = RunConfig::tuned(algo, env) else {
        return Outcome::Refused("tuned defaults");
    };
    let Ok(table) = toml::from_str::<toml::Table>(file) else {
        return Outcome::Refused("TOML syntax");
    };
    if config.merge_table(table, "fuzz.toml").is_err() {
        return Outcome::Refused("a file key");
    }
    for line in sets.lines() {
        if config.set(line).is_err() {
            return Outcome::Refused("a --set assignment");
        }
    }
    if config.validate().is_err() {
        return Outcome::Refused("validate");
    }
    let checked = match config.common.make_env() {
        Ok(probe) => config.algo.check(&config, &*probe).is_ok(),
        Err(_) => false,
    };
    // A config that validated is written as `config.toml` and read back on resume: both must
    // work, and give the same config.
    let written = match config.to_toml() {
        Ok(text) => text,
        Err(e) => panic!("a validated config does not serialise: {e}"),
    };
    let table = match toml::from_str::<toml::Table>(&written) {
        Ok(t) => t,
        Err(e) => panic!("config.toml written by engram does not parse: {e}\n{written}"),
    };
    match RunConfig::from_table(table, "config.toml") {
        Ok(back) => {
            assert_eq!(
                back.to_table(),
                config.to_table(),
                "config.toml does not read back to the config that wrote it:\n{written}"
            );
            if let Err(e) = back.validate() {
                panic!("config.toml of a validated config does not validate: {e}\n{written}");
            }
        }
        Err(e) => panic!("config.toml written by engram is refused: {e}\n{written}"),
    }
    if checked {
        Outcome::Accepted
    } else {
        Outcome::Refused("environment or spaces")
    }
}

/// Checkpoint input: the bytes of a `.safetensors` file, read as `engram eval` reads one; if
/// it loads, its agent plays one bounded, seeded episode.
pub fn checkpoint(data: &[u8]) -> Outcome {
    let path = Path::new("fuzz.safetensors");
    match Checkpoint::from_bytes(data, path) {
        Ok(ckpt) => play_checkpoint(&ckpt, path.to_path_buf()),
        Err(_) => Outcome::Refused("safetensors or metadata"),
    }
}

/// Loads a checkpoint's agent, exports it to ONNX, and plays up to [`MAX_PLAY_STEPS`] steps,
/// greedy then sampled.
pub fn play_checkpoint(ckpt: &Checkpoint, path: PathBuf) -> Outcome {
    let Ok(loaded) = engram::play::from_checkpoint(ckpt, path) else {
        return Outcome::Refused("agent");
    };
    // Whatever loads must export (or refuse with an error): never a panic.
    let _ = engram::export::onnx_model(&loaded);
    let Ok(mut env) = loaded.make_env() else {
        return Outcome::Refused("environment");
    };
    for sample_seed in [None, Some(7)] {
        play(&*loaded.agent, &loaded.params, &mut *env, sample_seed);
    }
    Outcome::Accepted
}

fn play(
    agent: &dyn engram::agent::Act,
    params: &[f32],
    env: &mut dyn Env,
    sample_seed: Option<u64>,
) {
    let kind = agent.action_kind();
    let mut player = agent.player(params);
    let mut rng = sample_seed.map(ChaCha8Rng::seed_from_u64);
    let mut obs = vec![0.0; agent.obs_dim()];
    let mut action = vec![0.0; kind.action_dim()];
    let mut scratch = engram::agent::StepScratch::new(kind.action_dim());
    if env.reset(Some(1), &mut obs).is_err() {
        return;
    }
    player.reset();
    for _ in 0..MAX_PLAY_STEPS {
        player.act(&obs, rng.as_mut(), &mut action);
        match engram::agent::step_env(env, kind, &action, &mut scratch, &mut obs) {
            Ok(step) if !(step.terminated || step.truncated) => {}
            _ => return,
        }
    }
}

/// Reference-trajectory input: JSON text replayed as `engram env replay FILE` does.
pub fn replay_json(data: &[u8]) -> Outcome {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return Outcome::Refused("JSON syntax");
    };
    let options = engram_env::golden::ReplayOptions::default();
    match engram_env::golden::replay_value("fuzz.json", &value, &options) {
        Ok(report) => {
            let _ = report.to_string();
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused("trajectory file"),
    }
}

/// Environment-options input: byte 0 picks the environment, the rest is one `key=value`
/// option per line (as `--set env_options.KEY=VALUE`). If the environment is made, it is
/// reset and stepped with seeded random actions from its action space.
pub fn env_options(data: &[u8]) -> Outcome {
    let [e, rest @ ..] = data else {
        return Outcome::Refused("too short");
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return Outcome::Refused("not UTF-8");
    };
    let ids = env_ids();
    let id = &ids[*e as usize % ids.len()];
    let Ok(options) = Options::parse_assignments(text.lines().filter(|l| !l.is_empty())) else {
        return Outcome::Refused("assignment syntax");
    };
    let Ok(mut env) = registry::make(id, &options) else {
        return Outcome::Refused("make");
    };
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(*e));
    if env.reset(Some(3), &mut obs).is_err() {
        return Outcome::Refused("reset");
    }
    let space = env.action_space().clone();
    for _ in 0..MAX_PLAY_STEPS {
        let action = space.sample(&mut rng);
        let step = match &space {
            engram_env::Space::Discrete { .. } => {
                env.step(engram_env::Action::Discrete(action[0] as i64), &mut obs)
            }
            engram_env::Space::MultiDiscrete { .. } => {
                let parts: Vec<i64> = action.iter().map(|&a| a as i64).collect();
                env.step(engram_env::Action::MultiDiscrete(&parts), &mut obs)
            }
            _ => env.step(engram_env::Action::Continuous(&action), &mut obs),
        };
        match step {
            Ok(s) if !(s.terminated || s.truncated) => {}
            Ok(_) => break,
            Err(_) => return Outcome::Refused("step"),
        }
    }
    Outcome::Accepted
}
