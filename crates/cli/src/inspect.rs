//! `engram inspect RUN [--episodes N] [--out DIR]`: record greedy episodes step by step, with
//! the recurrent core's states and gates, and draw them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub fn run_cli(
    run: &Path,
    episodes: usize,
    out: Option<PathBuf>,
    latest: bool,
    seed: Option<u64>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if episodes == 0 {
        return Err("--episodes must be at least 1".into());
    }
    let loaded = engram::play::load(run, latest)?;
    let out = out.unwrap_or_else(|| {
        if run.is_dir() {
            run.join("inspect")
        } else {
            PathBuf::from("inspect")
        }
    });
    let seed = seed.unwrap_or(loaded.config.common.seed);
    let start = Instant::now();
    let recording = engram::inspect::record(&loaded, episodes, seed)?;
    let played = start.elapsed().as_secs_f64();
    let written = engram::inspect::write(&recording, &out)?;
    let total = start.elapsed().as_secs_f64();
    let returns: Vec<String> = recording.returns.iter().map(|r| format!("{r}")).collect();
    println!(
        "{} greedy episode{} of {} from {}: {} steps, returns {} (played in {:.3}s, written in {:.3}s)",
        episodes,
        if episodes == 1 { "" } else { "s" },
        recording.env,
        loaded.path.display(),
        recording.steps.len(),
        returns.join(", "),
        played,
        total - played
    );
    if recording.core_names.is_empty() {
        println!(
            "no recurrent core: hidden.png and gates.png need a run trained with --policy lstm or gru"
        );
    } else {
        println!(
            "recurrent core: {} units, recorded {}",
            recording.hidden,
            recording.core_names.join(" ")
        );
        if let Some(h) = recording.core_names.iter().position(|n| n == "h") {
            if let Some(corr) = engram::inspect::first_observation_correlation(&recording, h) {
                let mut units: Vec<(usize, f64)> = corr.into_iter().enumerate().collect();
                units.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                let top: Vec<String> = units
                    .iter()
                    .take(5)
                    .map(|(u, c)| format!("{u} ({c:+.2})"))
                    .collect();
                println!(
                    "hidden units that follow the episode's first observation (correlation over the later steps): {}",
                    top.join(", ")
                );
            }
        }
    }
    for f in &written.files {
        println!("  {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
