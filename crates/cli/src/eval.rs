//! `engram eval PATH`: play a trained agent (greedy or sampled), print the returns, optionally
//! print text renders, record an animated GIF or write PNG frames.

use crate::record::{frame_of, GifRecorder, PngFrames};
use engram_env::{Render, RenderMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub struct EvalOptions {
    pub episodes: usize,
    pub latest: bool,
    pub render: bool,
    pub stochastic: bool,
    /// `None`: the run's own seed.
    pub seed: Option<u64>,
    pub json: bool,
    /// Write the episodes as an animated GIF.
    pub record: Option<PathBuf>,
    /// Frames per second of the GIF.
    pub fps: f64,
    /// Write one PNG per step into this folder.
    pub frames: Option<PathBuf>,
}

/// `engram eval PATH`: PATH is a run directory (best checkpoint unless `latest`) or a
/// checkpoint file.
pub fn run_cli(path: &Path, opts: &EvalOptions) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if opts.episodes == 0 {
        return Err("--episodes must be at least 1".into());
    }
    if !(opts.fps.is_finite() && opts.fps > 0.0) {
        return Err(format!(
            "--fps {}: give a positive number of frames per second",
            opts.fps
        )
        .into());
    }
    if let Some(gif) = &opts.record {
        if gif
            .extension()
            .is_none_or(|e| !e.eq_ignore_ascii_case("gif"))
        {
            return Err(format!(
                "--record {}: engram records animated GIFs; name the file *.gif",
                gif.display()
            )
            .into());
        }
    }
    let loaded = engram::play::load(path, opts.latest)?;
    let ckpt_path = loaded.path.clone();
    let mut env = loaded.make_env()?;
    let seed = opts.seed.unwrap_or(loaded.config.common.seed);
    let sample_seed = opts.stochastic.then_some(seed ^ 0x5eed);
    let env_id = loaded.config.common.env.clone();
    let mut gif = opts.record.as_ref().map(|_| GifRecorder::new(opts.fps));
    let mut pngs = match &opts.frames {
        Some(dir) => Some(PngFrames::new(dir)?),
        None => None,
    };
    // The first problem met while drawing (an environment without a picture, a full disk):
    // the episodes play on without pictures, and the command fails with it.
    let mut failure: Option<String> = None;
    let mut episodes_seen = 0usize;
    let started = std::time::Instant::now();
    let result = loaded.evaluate(
        &mut *env,
        opts.episodes,
        seed,
        sample_seed,
        |env, episode, step| {
            if failure.is_some() {
                return;
            }
            if opts.render {
                match env.render(RenderMode::Text) {
                    Ok(Render::Text(text)) => eprintln!("episode {episode} step {step}\n{text}"),
                    _ => {
                        failure = Some(format!(
                            "{env_id} has no text rendering: --render prints toy-text maps; \
                             use --record out.gif or --frames DIR for a picture"
                        ));
                        return;
                    }
                }
            }
            if gif.is_none() && pngs.is_none() {
                return;
            }
            let frame = match frame_of(env, &env_id) {
                Ok(frame) => frame,
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            };
            if let Some(gif) = gif.as_mut() {
                if step == 0 && episode != episodes_seen {
                    gif.end_episode();
                }
                gif.push(&frame);
            }
            episodes_seen = episode;
            if let Some(pngs) = pngs.as_mut() {
                if let Err(e) = pngs.write(&frame, episode, step) {
                    failure = Some(e);
                }
            }
        },
    )?;
    if let Some(message) = failure {
        return Err(message.into());
    }
    let mut pictures = Vec::new();
    if let (Some(mut recorder), Some(path)) = (gif, &opts.record) {
        recorder.end_episode();
        let frames = recorder.frames();
        let bytes = recorder.write(path)?;
        pictures.push(format!(
            "wrote {} ({frames} frames, {:.1} kB)",
            path.display(),
            bytes as f64 / 1e3
        ));
    }
    if let (Some(pngs), Some(dir)) = (&pngs, &opts.frames) {
        pictures.push(format!(
            "wrote {} PNG frames to {}",
            pngs.written,
            dir.display()
        ));
    }
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
        for line in &pictures {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
