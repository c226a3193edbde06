//! Mutated checkpoints, for every algorithm in the registry: a short run writes a real
//! checkpoint, [`engram_fuzz::mutate`] damages it, and each mutant is read and played as
//! `engram eval` does; one in four is also resumed as `engram train --resume` does, from a
//! copy of the run directory. The only acceptable outcomes are success or an error; a panic
//! (including a worker thread's, reported as an error that says so) fails the test and leaves
//! the mutant in `target/fuzz-failures/`.
//!
//! `ENGRAM_FUZZ_CASES=N` sets the mutants per template run (CI: 40); `ENGRAM_FUZZ_SEED` the seed.

use engram::algos::{RunConfig, REGISTRY};
use engram::runtime::Checkpoint;
use engram_fuzz::{mutate, play_checkpoint, save_failure, Outcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const LATEST: &str = "checkpoints/latest.safetensors";

fn cases() -> usize {
    std::env::var("ENGRAM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// A short real run of `algo` on `env`, checkpointing often.
fn template(algo: &str, env: &str, extra: &[&str], dir: &Path) {
    let mut config = RunConfig::tuned(algo, env).unwrap();
    let keys = config.keys();
    let mut sets = vec![
        "total_steps=1200",
        "checkpoint_interval=400",
        "log_interval=400",
        "eval_interval=400",
        "eval_episodes=1",
        "seed=3",
    ];
    for (key, set) in [
        ("workers", "workers=2"),
        ("save_replay_buffer", "save_replay_buffer=true"),
        ("buffer_size", "buffer_size=2000"),
        ("learning_starts", "learning_starts=200"),
        // SAC, TD3, DDPG: small networks and batches keep the template fast.
        ("actor_layers", "encoder_layers=[32]"),
        ("actor_layers", "batch_size=32"),
    ] {
        if keys.contains(&key) {
            sets.push(set);
        }
    }
    sets.extend(extra);
    for s in sets {
        config.set(s).unwrap();
    }
    engram::train::train(config, Some(dir), true)
        .unwrap_or_else(|e| panic!("template run {algo} on {env}: {e}"));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("checkpoints")).unwrap();
    for sub in ["", "checkpoints"] {
        for entry in fs::read_dir(from.join(sub)).unwrap().flatten() {
            if entry.path().is_file() {
                fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
}

#[test]
fn mutated_checkpoints_of_every_algorithm_are_refused_or_played_never_panic() {
    let root = tempfile::tempdir().unwrap();
    let mut templates: Vec<(String, PathBuf)> = Vec::new();
    for spec in REGISTRY {
        let dir = root.path().join(spec.name);
        template(spec.name, spec.example_env, &[], &dir);
        templates.push((spec.name.to_string(), dir));
    }
    // Continuous actions and normalised observations, whose statistics the checkpoint holds.
    let dir = root.path().join("ppo-pendulum");
    template("ppo", "Pendulum-v1", &["normalize_observations=true"], &dir);
    templates.push(("ppo-pendulum".into(), dir));
    // SAC's gSDE adds the actor's log_std matrix.
    let dir = root.path().join("sac-gsde");
    template(
        "sac",
        "Pendulum-v1",
        &["use_sde=true", "use_expln=true"],
        &dir,
    );
    templates.push(("sac-gsde".into(), dir));

    let seed: u64 = std::env::var("ENGRAM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2026);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut panics = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |key: String| *outcomes.entry(key).or_insert(0) += 1;
    for (name, dir) in &templates {
        let original = fs::read(dir.join(LATEST)).unwrap();
        for case in 0..cases() {
            let bytes = mutate::mutate(&original, &mut rng);
            let id = format!("checkpoint-{name}-{seed}-{case}");
            // As `engram eval` reads it.
            let played = catch_unwind(AssertUnwindSafe(|| {
                match Checkpoint::from_bytes(&bytes, Path::new("mutant")) {
                    Ok(ckpt) => play_checkpoint(&ckpt, PathBuf::from("mutant")),
                    Err(_) => Outcome::Refused("safetensors or metadata"),
                }
            }));
            match played {
                Ok(outcome) => count(format!("eval {outcome:?}")),
                Err(_) => panics.push(save_failure(&format!("{id}.safetensors"), &bytes)),
            }
            // As `engram train --resume` reads it, one mutant in four.
            if rng.gen_ratio(1, 4) {
                let run = root.path().join(format!("resume-{case}"));
                copy_dir(dir, &run);
                fs::write(run.join(LATEST), &bytes).unwrap();
                let resumed = catch_unwind(AssertUnwindSafe(|| {
                    engram::train::resume(&run, &["total_steps=1600".to_string()], true)
                }));
                match resumed {
                    Ok(Ok(_)) => count("resume trained".into()),
                    Ok(Err(e)) if e.to_string().contains("panicked") => {
                        eprintln!("{id}: resume reported a panic: {e}");
                        panics.push(save_failure(&format!("{id}-resume.safetensors"), &bytes));
                    }
                    Ok(Err(_)) => count("resume refused".into()),
                    Err(_) => {
                        panics.push(save_failure(&format!("{id}-resume.safetensors"), &bytes))
                    }
                }
                let _ = fs::remove_dir_all(&run);
            }
        }
    }
    eprintln!(
        "{} mutants of {} template runs: {outcomes:?}, {} panics",
        cases() * templates.len(),
        templates.len(),
        panics.len()
    );
    assert!(
        panics.is_empty(),
        "mutated checkpoints panicked; replay with ENGRAM_FUZZ_REPLAY=FILE cargo test -p engram-fuzz --test targets replaying: {panics:#?}"
    );
    // The mutator must reach past the framing, or this test would only test safetensors.
    let played = outcomes.get("eval Accepted").copied().unwrap_or(0);
    assert!(
        played * 10 >= cases() * templates.len(),
        "too few mutants were loaded and played: {outcomes:?}"
    );
}
