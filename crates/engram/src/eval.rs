//! Evaluation of a policy: greedy (argmax / Gaussian mean) or sampled, over whole episodes.
//! Used beside training (the periodic evaluator) and by `engram eval`.

use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::policy::{Actor, ActorCritic};
use crate::rollout::{normalize_observation, step_env};
use crate::run;
use crate::train::{load_params, make_env, TrainError};
use engram_env::wrappers::RunningMeanStd;
use engram_env::{Env, Render, RenderMode};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Returns and lengths of evaluation episodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalResult {
    pub returns: Vec<f64>,
    pub lengths: Vec<u64>,
}

impl EvalResult {
    pub fn mean(&self) -> f64 {
        self.returns.iter().sum::<f64>() / self.returns.len().max(1) as f64
    }

    /// Population standard deviation (numpy's default, as SB3's evaluate_policy reports).
    pub fn std(&self) -> f64 {
        let m = self.mean();
        (self.returns.iter().map(|r| (r - m).powi(2)).sum::<f64>()
            / self.returns.len().max(1) as f64)
            .sqrt()
    }
}

/// Seeds of evaluation episodes: the same episodes at every evaluation of a run, so that
/// evaluations are comparable, and disjoint from the training seeds' stream.
pub fn eval_seed(base: u64, episode: usize) -> u64 {
    base.wrapping_mul(1_000_003)
        .wrapping_add(10_000_000 + episode as u64)
}

/// A policy as trained: network, parameters and, when observations were normalised, the
/// (frozen) statistics they were normalised with.
#[derive(Clone, Copy)]
pub struct Agent<'a> {
    pub policy: &'a ActorCritic,
    pub params: &'a [f32],
    pub obs_stats: Option<&'a RunningMeanStd>,
}

/// Longest evaluation episode. Environments without a time limit (CliffWalking, say) would
/// otherwise let a greedy policy that never reaches the goal evaluate forever; such an
/// episode is cut here and counted with the return it has.
pub const MAX_EVAL_EPISODE_STEPS: u64 = 10_000;

/// Plays `episodes` whole episodes (at most [`MAX_EVAL_EPISODE_STEPS`] steps each).
/// `sample_seed` = None acts greedily.
pub fn evaluate(
    agent: Agent<'_>,
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    sample_seed: Option<u64>,
    mut on_step: impl FnMut(&dyn Env, usize, u64),
) -> Result<EvalResult, engram_env::EnvError> {
    let Agent {
        policy,
        params,
        obs_stats,
    } = agent;
    let mut actor = Actor::new(policy, 1);
    let mut rng = sample_seed.map(ChaCha8Rng::seed_from_u64);
    let mut obs = vec![0.0; policy.obs_dim()];
    let mut state = vec![0.0; policy.state_size()];
    let mut action = vec![0.0; policy.action_dim()];
    let mut value = [0.0f32];
    let mut discrete = vec![0i64; policy.action_dim()];
    let mut clipped = vec![0.0f32; policy.action_dim()];
    let mut result = EvalResult::default();
    for episode in 0..episodes {
        env.reset(Some(eval_seed(seed, episode)), &mut obs)?;
        if let Some(stats) = obs_stats {
            normalize_observation(stats, &mut obs);
        }
        state.fill(0.0);
        actor.reset_noise();
        let (mut ret, mut len) = (0.0, 0u64);
        on_step(env, episode, 0);
        loop {
            actor.act(
                policy,
                params,
                &obs,
                &mut state,
                rng.as_mut(),
                &mut action,
                &mut value,
            );
            let step = step_env(
                env,
                &policy.action_kind,
                &action,
                &mut discrete,
                &mut clipped,
                &mut obs,
            )?;
            if let Some(stats) = obs_stats {
                normalize_observation(stats, &mut obs);
            }
            ret += step.reward;
            len += 1;
            on_step(env, episode, len);
            if step.terminated || step.truncated || len >= MAX_EVAL_EPISODE_STEPS {
                break;
            }
        }
        result.returns.push(ret);
        result.lengths.push(len);
    }
    Ok(result)
}

pub struct EvalOptions {
    pub episodes: usize,
    pub latest: bool,
    pub render: bool,
    pub stochastic: bool,
    pub seed: u64,
    pub json: bool,
}

/// `engram eval PATH`: PATH is a run directory (best checkpoint unless `latest`) or a
/// checkpoint file.
pub fn run_cli(path: &Path, opts: &EvalOptions) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if opts.episodes == 0 {
        return Err("--episodes must be at least 1".into());
    }
    let ckpt_path = resolve_checkpoint(path, opts.latest)?;
    let ckpt = Checkpoint::load(&ckpt_path)?;
    let config: TrainConfig =
        serde_json::from_value(ckpt.meta.state["config"].clone()).map_err(|e| {
            TrainError::Policy(format!(
                "checkpoint {} has no readable config: {e}",
                ckpt_path.display()
            ))
        })?;
    let mut env = make_env(&config)?;
    let policy = ActorCritic::new(env.observation_space(), env.action_space(), &config)?;
    ckpt.check_architecture(&policy.layout.signature(), &ckpt_path)?;
    let params = load_params(&ckpt, &policy.layout, &ckpt_path)?;
    let sample_seed = opts.stochastic.then_some(opts.seed ^ 0x5eed);
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
    let obs_stats: Option<RunningMeanStd> =
        serde_json::from_value(ckpt.meta.state["obs_stats"].clone()).unwrap_or(None);
    let agent = Agent {
        policy: &policy,
        params: &params,
        obs_stats: obs_stats.as_ref(),
    };
    let result = evaluate(
        agent,
        &mut *env,
        opts.episodes,
        opts.seed,
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
            "env": config.env,
            "episodes": opts.episodes,
            "greedy": !opts.stochastic,
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
            "{} on {}: return {:.2} ± {:.2} over {} {} episodes (min {:.1}, max {:.1}), {:.2}s",
            ckpt_path.display(),
            config.env,
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

fn resolve_checkpoint(path: &Path, latest: bool) -> Result<PathBuf, String> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(format!(
            "{} is neither a run directory nor a checkpoint file",
            path.display()
        ));
    }
    let best = path.join(run::BEST);
    let last = path.join(run::LATEST);
    let pick = if latest || !best.exists() { last } else { best };
    if pick.exists() {
        Ok(pick)
    } else {
        Err(format!(
            "{} has no checkpoints/ yet (was training started there?)",
            path.display()
        ))
    }
}
