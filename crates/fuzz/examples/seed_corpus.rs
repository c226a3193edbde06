//! Writes seed corpora for the cargo-fuzz targets into `fuzz/corpus/<target>/`: a config per
//! algorithm, an options line per environment, a real checkpoint per algorithm (short runs),
//! and the small trajectory files of `crates/fuzz/corpus/replay_json`.
//!
//! `cargo run --release -p engram-fuzz --example seed_corpus [-- OUT_DIR]`

use engram::algos::{RunConfig, REGISTRY};
use engram_fuzz::{env_ids, SET_SEPARATOR};
use std::fs;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/corpus"));
    let ids = env_ids();
    let cartpole = ids.iter().position(|i| i == "CartPole-v1").unwrap_or(0) as u8;
    let dir = out.join("config");
    fs::create_dir_all(&dir)?;
    for (a, spec) in REGISTRY.iter().enumerate() {
        // The algorithm's example environment (CartPole-v1 for most deep ones).
        let env = ids
            .iter()
            .position(|i| i == spec.example_env)
            .unwrap_or(cartpole as usize) as u8;
        let mut bytes = vec![a as u8, env];
        bytes.extend(format!("seed = 5\ngamma = 0.98{SET_SEPARATOR}total_steps=1000\n").bytes());
        fs::write(dir.join(spec.name), bytes)?;
    }
    let dir = out.join("env_options");
    fs::create_dir_all(&dir)?;
    for (e, id) in ids.iter().enumerate() {
        fs::write(dir.join(id), [e as u8])?;
    }
    let dir = out.join("replay_json");
    fs::create_dir_all(&dir)?;
    for entry in fs::read_dir(root.join("crates/fuzz/corpus/replay_json"))? {
        let entry = entry?;
        fs::copy(entry.path(), dir.join(entry.file_name()))?;
    }
    let dir = out.join("checkpoint");
    fs::create_dir_all(&dir)?;
    let runs = tempfile::tempdir()?;
    for spec in REGISTRY {
        let mut config = RunConfig::tuned(spec.name, spec.example_env)?;
        for s in [
            "total_steps=600",
            "checkpoint_interval=300",
            "eval_interval=0",
        ] {
            config.set(s)?;
        }
        if spec.name == "dqn" {
            config.set("learning_starts=100")?;
        }
        if config.keys().contains(&"actor_layers") {
            config.set("learning_starts=100")?;
            config.set("encoder_layers=[32]")?;
        }
        let run = runs.path().join(spec.name);
        engram::train::train(config, Some(&run), true)?;
        fs::copy(
            run.join("checkpoints/latest.safetensors"),
            dir.join(format!("{}.safetensors", spec.name)),
        )?;
    }
    println!("seed corpora written to {}", out.display());
    Ok(())
}
