//! The `engram` command line.

use clap::{Args, Parser, Subcommand};
use engram::config::{Algo, PolicyKind, TrainConfig, KEY_DOCS};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "engram",
    version,
    about = "Fast deep reinforcement learning for agents with memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an agent (prints the hyper-parameters it uses; Ctrl-C saves and stops).
    Train(TrainArgs),
    /// Evaluate a trained agent from a run directory.
    Eval(EvalArgs),
    /// List the environment ids with their spaces.
    Envs,
    /// List the algorithms and their options.
    Algos,
    /// Measure this machine: network updates, environment stepping, training throughput.
    Bench(BenchArgs),
    /// Environment tools.
    #[command(subcommand)]
    Env(EnvCommand),
}

#[derive(Args)]
struct TrainArgs {
    /// Environment id (`engram envs` lists them).
    #[arg(long)]
    env: Option<String>,
    /// Algorithm: a3c | a2c.
    #[arg(long)]
    algo: Option<String>,
    /// Worker threads (A3C) or lockstep environments (A2C).
    #[arg(long)]
    workers: Option<usize>,
    /// Environment steps to train for.
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Recurrent core: lstm | gru | mlp.
    #[arg(long)]
    policy: Option<String>,
    /// A TOML file of hyper-parameters (any keys of `engram algos`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one hyper-parameter, e.g. `--set learning_rate=1e-3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Run directory (default: runs/<env>_<algo>_s<seed>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["env", "algo", "config", "out"])]
    resume: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// A run directory (or a checkpoint file).
    path: PathBuf,
    #[arg(long, default_value_t = 100)]
    episodes: usize,
    /// Evaluate the latest checkpoint instead of the best one.
    #[arg(long)]
    latest: bool,
    /// Print each step's rendering (text environments) or write frames.
    #[arg(long)]
    render: bool,
    /// Sample actions instead of acting greedily.
    #[arg(long)]
    stochastic: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Only workloads whose name contains this.
    filter: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Measure longer for steadier numbers.
    #[arg(long)]
    long: bool,
}

#[derive(Subcommand)]
enum EnvCommand {
    /// Replay a reference trajectory file (rl-golden/1) against engram's environment.
    Replay { files: Vec<PathBuf> },
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => engram::eval::run_cli(
            &args.path,
            &engram::eval::EvalOptions {
                episodes: args.episodes,
                latest: args.latest,
                render: args.render,
                stochastic: args.stochastic,
                seed: args.seed,
                json: args.json,
            },
        ),
        Command::Envs => {
            engram::cli::print_envs();
            Ok(ExitCode::SUCCESS)
        }
        Command::Algos => {
            print_algos();
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            engram::bench::run_cli(args.filter.as_deref(), args.json, args.long)
        }
        Command::Env(EnvCommand::Replay { files }) => engram::cli::replay(&files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn train(args: TrainArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(dir) = &args.resume {
        let mut overrides = args.sets.clone();
        if let Some(steps) = args.steps {
            overrides.push(format!("total_steps={steps}"));
        }
        if args.workers.is_some() || args.seed.is_some() || args.policy.is_some() {
            return Err("--resume continues a run with its own config: only --steps and --set may change it".into());
        }
        let summary = engram::train::resume(dir, &overrides, args.quiet)?;
        return Ok(exit_for(&summary));
    }
    let algo = Algo::parse(args.algo.as_deref().unwrap_or("a3c"))?;
    let env = args
        .env
        .clone()
        .unwrap_or_else(|| "CartPole-v1".to_string());
    let mut config = TrainConfig::tuned(algo, &env);
    if let Some(path) = &args.config {
        config.merge_file(path)?;
    }
    for assignment in &args.sets {
        config.set(assignment)?;
    }
    if let Some(w) = args.workers {
        config.workers = w;
    }
    if let Some(s) = args.steps {
        config.total_steps = s;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    if let Some(p) = &args.policy {
        config.policy = PolicyKind::parse(p)?;
        if config.policy == PolicyKind::Mlp && config.encoder_layers.is_empty() {
            // Without a recurrent core the encoder is the whole network: give it SB3's default.
            config.encoder_layers = vec![64, 64];
        }
    }
    let summary = engram::train::train(config, args.out.as_deref(), args.quiet)?;
    Ok(exit_for(&summary))
}

fn exit_for(summary: &engram::run::Summary) -> ExitCode {
    if summary.stop_reason == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_algos() {
    println!("algorithms:");
    for algo in Algo::ALL {
        println!("  {:<6} {}", algo.name(), algo.description());
    }
    println!("\noptions (--set KEY=VALUE, or keys of a --config TOML file):");
    let defaults = TrainConfig::default().to_table();
    for (key, doc) in KEY_DOCS {
        let default = defaults
            .get(*key)
            .map(|v| v.to_string())
            .unwrap_or_default();
        println!(
            "  {key:<24} {doc}{}",
            if default.is_empty() {
                String::new()
            } else {
                format!(" [default {default}]")
            }
        );
    }
}

/// `engram envs | head` should stop quietly like any Unix tool, not panic on a closed pipe:
/// Rust ignores SIGPIPE by default, so restore the default action.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
