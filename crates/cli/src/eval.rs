//! `engram eval PATH`: play a trained agent (greedy or sampled), print the returns, optionally
//! render text or write frames.

use engram_env::{Render, RenderMode};
use std::path::Path;
use std::process::ExitCode;

pub struct EvalOptions {
    pub episodes: usize,
    pub latest: bool,
    pub render: bool,
    pub stochastic: bool,
    /// `None`: the run's own seed.
    pub seed: Option<u64>,
    pub json: bool,
}

/// `engram eval PATH`: PATH is a run directory (best checkpoint unless `latest`) or a
/// checkpoint file.
pub fn run_cli(path: &Path, opts: &EvalOptions) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if opts.episodes == 0 {
        return Err("--episodes must be at least 1".into());
    }
    let loaded = engram::play::load(path, opts.latest)?;
    let ckpt_path = loaded.path.clone();
    let mut env = loaded.make_env()?;
    let seed = opts.seed.unwrap_or(loaded.config.common.seed);
    let sample_seed = opts.stochastic.then_some(seed ^ 0x5eed);
    let mut frames = 0usize;
    // Frames go to the run directory (beside checkpoints/), or beside a loose checkpoint file.
    let ckpt_dir = ckpt_path.parent().unwrap_or(Path::new("."));
    let run_dir = if ckpt_dir.ends_with("checkpoints") {
        ckpt_dir.parent().unwrap_or(ckpt_dir)
    } else {
        ckpt_dir
    };
    let frame_dir = run_dir.join("frames");
    let started = std::time::Instant::now();
    let result = loaded.evaluate(
        &mut *env,
        opts.episodes,
        seed,
        sample_seed,
        |env, episode, step| {
            if !opts.render {
                return;
            }
            match env.render(RenderMode::Text) {
                Ok(Render::Text(text)) => eprintln!("episode {episode} step {step}\n{text}"),
                _ => {
                    if let Ok(Render::Rgb {
                        width,
                        height,
                        pixels,
                    }) = env.render(RenderMode::Rgb)
                    {
                        let _ = std::fs::create_dir_all(&frame_dir);
                        let file = frame_dir.join(format!("ep{episode:03}_{step:05}.ppm"));
                        let mut bytes = format!("P6\n{width} {height}\n255\n").into_bytes();
                        bytes.extend_from_slice(&pixels);
                        if std::fs::write(&file, bytes).is_ok() {
                            frames += 1;
                        }
                    }
                }
            }
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if opts.json {
        let out = serde_json::json!({
            "checkpoint": ckpt_path.display().to_string(),
            "env": loaded.config.common.env,
            "episodes": opts.episodes,
            "greedy": !opts.stochastic,
            "seed": seed,
            "mean_return": result.mean(),
            "std_return": result.std(),
            "min_return": result.returns.iter().cloned().fold(f64::INFINITY, f64::min),
            "max_return": result.returns.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            "mean_length": result.lengths.iter().sum::<u64>() as f64 / result.lengths.len() as f64,
            "returns": result.returns,
            "seconds": seconds,
        });
        println!("{out}");
    } else {
        println!(
            "{} on {}: return {:.2} ± {:.2} over {} {} episodes from seed {seed} (min {:.1}, max {:.1}), {:.2}s",
            ckpt_path.display(),
            loaded.config.common.env,
            result.mean(),
            result.std(),
            opts.episodes,
            if opts.stochastic { "sampled" } else { "greedy" },
            result.returns.iter().cloned().fold(f64::INFINITY, f64::min),
            result
                .returns
                .iter()
                .cloned()
                .fold(f64::NEG_INFINITY, f64::max),
            seconds
        );
        if frames > 0 {
            println!("wrote {frames} frames (PPM) to {}", frame_dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
