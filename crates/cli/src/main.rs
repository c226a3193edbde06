//! The `engram` command line: all of engram's user-facing text lives here; the library prints
//! nothing but training progress.

// A panic is a bug: code outside tests returns errors instead (see RELIABILITY.md).
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod envs;
mod eval;
mod inspect;
mod ls;
mod plot;
mod record;

use clap::{Args, Parser, Subcommand};
use engram::algos::{self, RunConfig, REGISTRY};
use engram::config::keys::doc;
use engram::config::PolicyKind;
use engram::runtime::Summary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

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
    Train(Box<TrainArgs>),
    /// Evaluate a trained agent from a run directory.
    Eval(EvalArgs),
    /// Export a trained policy: `engram export RUN --onnx policy.onnx`.
    Export(ExportArgs),
    /// List the runs under a directory: env, algo, seed, steps, wall time, best eval, solved at.
    Ls {
        /// The folder that holds the runs (searched 4 levels deep).
        #[arg(default_value = "runs")]
        dir: PathBuf,
    },
    /// Play greedy episodes and record each step (observation, action probabilities, value,
    /// the recurrent core's states and gates) as CSV and safetensors, with pictures.
    Inspect(InspectArgs),
    /// Draw learning curves as PNG or SVG: runs overlaid, a multi-seed directory as the mean
    /// across seeds with a band of one standard error, the reward threshold dashed.
    Plot(PlotArgs),
    /// List the environment ids with their spaces.
    Envs,
    /// List the algorithms, or one algorithm's options with their defaults.
    Algos {
        /// An algorithm: list its options (`engram algos ppo`).
        name: Option<String>,
        /// With NAME: the defaults as tuned for this environment.
        #[arg(long)]
        env: Option<String>,
    },
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
    /// Algorithm (`engram algos` lists them; default a3c).
    #[arg(long)]
    algo: Option<String>,
    /// A3C's worker threads (the `workers` key).
    #[arg(long)]
    workers: Option<usize>,
    /// Environments stepped in lockstep (the `n_envs` key of a2c, ppo, ...).
    #[arg(long)]
    n_envs: Option<usize>,
    /// Environment steps to train for.
    #[arg(long)]
    steps: Option<u64>,
    /// Training episodes to train for (the `total_episodes` key); with --steps too, the first
    /// budget reached stops the run.
    #[arg(long)]
    episodes: Option<u64>,
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// One run per seed, in parallel, each in OUT/seed_N/, then OUT/curves.csv: e.g.
    /// `--seeds 0-99`, `--seeds 0,3,7`, `--seeds 0-4,10-12`. The seeds write no TensorBoard
    /// events, no curve.png and (with a step budget) no monitor.csv / episodes.csv unless
    /// `--set tensorboard=true` / `curve_png=true` / `episode_logs=true` asks.
    #[arg(long, value_name = "SEEDS")]
    seeds: Option<String>,
    /// With --seeds: runs at a time (default: the available cores / the threads one run
    /// keeps busy, A3C's workers).
    #[arg(long)]
    jobs: Option<usize>,
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
    #[arg(long, value_name = "DIR", conflicts_with_all = ["env", "algo", "config", "out", "seeds"])]
    resume: Option<PathBuf>,
    /// Train A3C, PPO or A2C across machines with Ray: the cluster's head `host:port`, or
    /// `auto`. A3C's remote workers push gradients; PPO's and A2C's collect rollouts for the
    /// learner. Runs `python -m engram.distributed` (the Python package and Ray must be
    /// installed; the interpreter is $ENGRAM_PYTHON, else python3).
    #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["seeds", "workers", "config"])]
    ray: Option<String>,
    /// With --ray: the remote workers (Ray actors). A3C: one environment each; PPO and A2C:
    /// `n_envs / N` environments each (`--n-envs` is the run's total, a multiple of N).
    #[arg(long, value_name = "N", requires = "ray")]
    ray_workers: Option<usize>,
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
    /// Print each step's text rendering (toy text) on stderr.
    #[arg(long)]
    render: bool,
    /// Record the episodes as an animated GIF (classic control; toy text drawn as a grid).
    #[arg(long, value_name = "OUT.gif")]
    record: Option<PathBuf>,
    /// Frames per second of the GIF (at most 50: browsers slow faster GIFs down).
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Write each step's picture as a PNG file into this folder.
    #[arg(long, value_name = "DIR")]
    frames: Option<PathBuf>,
    /// Sample actions instead of acting greedily.
    #[arg(long)]
    stochastic: bool,
    /// Base seed of the episodes' initial states (default: the run's seed, the starts its
    /// periodic evaluations used, so the scores agree).
    #[arg(long)]
    seed: Option<u64>,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// A run directory (its best checkpoint) or a checkpoint file.
    path: PathBuf,
    /// Write the greedy policy as an ONNX model to this file (inputs `obs` and, for recurrent
    /// policies, `state_in`; outputs `action`, `logits` or `mean`, `value` or `q_values`,
    /// `state_out`).
    #[arg(long, value_name = "FILE")]
    onnx: PathBuf,
    /// Export the latest checkpoint instead of the best one.
    #[arg(long)]
    latest: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// A run directory (its best checkpoint) or a checkpoint file.
    path: PathBuf,
    #[arg(long, default_value_t = 1)]
    episodes: usize,
    /// Where the files go (default: RUN/inspect).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Inspect the latest checkpoint instead of the best one.
    #[arg(long)]
    latest: bool,
    /// Base seed of the episodes' starts (default: the run's seed, as `engram eval`).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Args)]
struct PlotArgs {
    /// Run directories, multi-seed directories, or folders that hold runs.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The picture: a .png or .svg file.
    #[arg(short, long, default_value = "curve.png")]
    out: PathBuf,
    /// Horizontal axis: steps | episodes | time.
    #[arg(long, default_value = "steps")]
    x: String,
    /// Vertical axis: return (100-episode training mean) | eval (greedy evaluations) | any
    /// column of metrics.csv (value_loss, entropy, approx_kl, ...).
    #[arg(long, default_value = "return")]
    y: String,
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

/// `eprintln!` that ignores a closed stderr: `engram train ... 2>&1 | head` must not kill or
/// panic a run (it keeps training and saving); see `restore_sigpipe`.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The run directory of the command in progress, for the report of an unexpected panic.
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

fn set_run_dir(dir: &Path) {
    if let Ok(mut slot) = RUN_DIR.lock() {
        *slot = Some(dir.to_path_buf());
    }
}

/// No reachable path should panic; if one does, the user learns that it is a bug, and what
/// became of the run. Checkpoints are written atomically and a resume drops what was logged
/// after the last one, so the run is left as of its last checkpoint: say how to continue it.
fn install_panic_report() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let dir = RUN_DIR.lock().ok().and_then(|d| d.clone());
        say!("{}", panic_report(dir.as_deref()));
    }));
}

fn panic_report(run_dir: Option<&Path>) -> String {
    let mut report = format!(
        "error: engram {} stopped on an internal error, a bug (not a problem with your \
         input): please report it with the message above and the command line",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(dir) = run_dir {
        if engram::seeds::is_seeds_dir(dir) {
            report += &format!(
                "\nthe seeds' runs in {} are intact as of their last checkpoints: continue them \
                 with `engram train --resume {}`",
                dir.display(),
                dir.display()
            );
        } else if dir.join(engram::runtime::run_dir::LATEST).exists() {
            report += &format!(
                "\nthe run in {} is intact as of its last checkpoint: continue it with \
                 `engram train --resume {} --steps N`",
                dir.display(),
                dir.display()
            );
        } else {
            report += &format!(
                "\nthe run in {} stopped before its first checkpoint: delete the directory \
                 to start it again",
                dir.display()
            );
        }
    }
    report
}

/// Tests of the panic report set `ENGRAM_TEST_PANIC` to make a run panic once it started.
fn panic_if_asked() {
    if std::env::var_os("ENGRAM_TEST_PANIC").is_some() {
        panic!("ENGRAM_TEST_PANIC is set: a panic injected to test the report");
    }
}

fn main() -> ExitCode {
    // The Ctrl-C / SIGTERM handler first: a signal in the first milliseconds of a run must
    // still mean "save and stop", not kill the process.
    engram::runtime::progress::install_signal_handler();
    install_panic_report();
    let cli = Cli::parse();
    // Listings stop quietly on a closed pipe like any Unix tool; a training run must not die
    // of one before it saves, so it keeps Rust's default (the signal ignored, writes failing).
    if !matches!(cli.command, Command::Train(_)) {
        restore_sigpipe();
    }
    let result = match cli.command {
        Command::Train(args) => train(*args),
        Command::Eval(args) => eval::run_cli(
            &args.path,
            &eval::EvalOptions {
                episodes: args.episodes,
                latest: args.latest,
                render: args.render,
                stochastic: args.stochastic,
                seed: args.seed,
                json: args.json,
                record: args.record,
                fps: args.fps,
                frames: args.frames,
            },
        ),
        Command::Export(args) => export(&args),
        Command::Ls { dir } => ls::run_cli(&dir),
        Command::Inspect(args) => {
            inspect::run_cli(&args.path, args.episodes, args.out, args.latest, args.seed)
        }
        Command::Plot(args) => plot::run_cli(&args.runs, &args.out, &args.x, &args.y),
        Command::Envs => {
            envs::print_envs();
            Ok(ExitCode::SUCCESS)
        }
        Command::Algos { name, env } => print_algos(name.as_deref(), env.as_deref()),
        Command::Bench(args) => bench::run_cli(args.filter.as_deref(), args.json, args.long),
        Command::Env(EnvCommand::Replay { files }) => envs::replay(&files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn export(args: &ExportArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let done = engram::export::export_onnx(&args.path, args.latest, &args.onnx)?;
    println!(
        "wrote {} ({} bytes) from {}\n  inputs:  {}\n  outputs: {}",
        done.path.display(),
        done.bytes,
        done.checkpoint.display(),
        done.inputs.join(", "),
        done.outputs.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn train(args: TrainArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(address) = &args.ray {
        return train_on_ray(&args, address);
    }
    let resuming_seeds = args
        .resume
        .as_deref()
        .is_some_and(engram::seeds::is_seeds_dir);
    if args.jobs.is_some() && args.seeds.is_none() && !resuming_seeds {
        return Err("--jobs sets how many seeds run at once: use it with --seeds (or to resume a multi-seed run)".into());
    }
    if let Some(0) = args.jobs {
        return Err("--jobs must be at least 1".into());
    }
    if let Some(dir) = &args.resume {
        let mut overrides = args.sets.clone();
        if let Some(steps) = args.steps {
            overrides.push(format!("total_steps={steps}"));
        }
        if let Some(episodes) = args.episodes {
            overrides.push(format!("total_episodes={episodes}"));
        }
        if resuming_seeds {
            if args.workers.is_some()
                || args.n_envs.is_some()
                || args.seed.is_some()
                || args.policy.is_some()
            {
                return Err("--resume continues a run with its own config: only --steps, --episodes, --set and --jobs may change it".into());
            }
            set_run_dir(dir);
            return resume_seeds(dir, &overrides, args.jobs, args.quiet);
        }
        if args.workers.is_some()
            || args.n_envs.is_some()
            || args.seed.is_some()
            || args.policy.is_some()
        {
            return Err("--resume continues a run with its own config: only --steps and --set may change it".into());
        }
        let state = engram::runtime::Checkpoint::load(&dir.join(engram::runtime::run_dir::LATEST))
            .ok()
            .map(|c| c.meta.state);
        let done = state
            .as_ref()
            .and_then(|s| s["monitor"]["counters"]["env_steps"].as_u64());
        let budget = state
            .as_ref()
            .and_then(|s| s["config"]["total_steps"].as_u64());
        let episodes_done = state
            .as_ref()
            .and_then(|s| s["monitor"]["counters"]["episodes"].as_u64());
        let episode_budget = state
            .as_ref()
            .and_then(|s| s["config"]["total_episodes"].as_u64());
        if let (Some(episodes), Some(done)) = (args.episodes, episodes_done) {
            if episodes <= done {
                return Err(format!(
                    "--episodes {episodes} is the run's total budget, and it has done {done} \
                     episodes already: give a larger total, e.g. --episodes {}",
                    done.saturating_mul(2)
                )
                .into());
            }
        }
        let episodes_spent =
            matches!((episodes_done, episode_budget), (Some(d), Some(b)) if d >= b);
        if episodes_spent && args.episodes.is_none() && args.steps.is_none() && args.sets.is_empty()
        {
            return Err(format!(
                "the run has done its episode budget ({} of {} episodes): give a larger total \
                 to continue, e.g. --episodes {}",
                episodes_done.unwrap_or(0),
                episode_budget.unwrap_or(0),
                episodes_done.unwrap_or(0).saturating_mul(2)
            )
            .into());
        }
        match (args.steps, done, budget) {
            (Some(steps), Some(done), _) if steps <= done => {
                return Err(format!(
                    "--steps {steps} is the run's total budget, and it has done {done} env steps \
                     already: give a larger total, e.g. --steps {}",
                    done.saturating_mul(2)
                )
                .into());
            }
            (None, Some(done), Some(budget))
                if done >= budget && args.sets.is_empty() && args.episodes.is_none() =>
            {
                // A run killed while finishing (writing summary.json) may have left a
                // temporary file: nothing will continue it, so it goes now.
                engram::runtime::run_dir::remove_temp_files(dir);
                return Err(format!(
                    "the run has done its budget ({done} of {budget} env steps): give a larger \
                     total to continue, e.g. --steps {}",
                    done.saturating_mul(2)
                )
                .into());
            }
            _ => {}
        }
        if !args.quiet {
            say!(
                "engram {}: resuming the run in {}",
                env!("CARGO_PKG_VERSION"),
                dir.display()
            );
        }
        set_run_dir(dir);
        panic_if_asked();
        let summary = engram::train::resume(dir, &overrides, args.quiet)?;
        report(&summary, args.quiet);
        return Ok(exit_for(&summary));
    }
    // The algorithm and environment pick the tuned table: from the flags, else the file.
    let file = args
        .config
        .as_deref()
        .map(engram::config::read_table)
        .transpose()?;
    let from_file = |key: &str| {
        file.as_ref()
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let algo = args
        .algo
        .clone()
        .or_else(|| from_file("algo"))
        .unwrap_or_else(|| "a3c".to_string());
    // Without --env: the algorithm's example environment (CartPole-v1 for the deep ones).
    let env = args
        .env
        .clone()
        .or_else(|| from_file("env"))
        .unwrap_or_else(|| {
            engram::algos::spec(&algo)
                .map(|s| s.example_env)
                .unwrap_or("CartPole-v1")
                .to_string()
        });
    let mut config = RunConfig::tuned(&algo, &env)?;
    let layers_in_file = file
        .as_ref()
        .is_some_and(|t| t.contains_key("encoder_layers"));
    let asked = |key: &str| {
        file.as_ref().is_some_and(|t| t.contains_key(key))
            || args
                .sets
                .iter()
                .any(|s| s.split('=').next().is_some_and(|k| k.trim() == key))
    };
    let (tensorboard_asked, curve_png_asked) = (asked("tensorboard"), asked("curve_png"));
    let episode_logs_asked = asked("episode_logs");
    if let (Some(path), Some(mut table)) = (&args.config, file) {
        table.remove("algo");
        config.merge_table(table, &path.display().to_string())?;
    }
    for assignment in &args.sets {
        config.set(assignment)?;
    }
    let layers_set = layers_in_file
        || args
            .sets
            .iter()
            .any(|s| s.trim_start().starts_with("encoder_layers"));
    let name = config.common.algo.clone();
    if let Some(w) = args.workers {
        if !config.keys().contains(&"workers") {
            return Err(format!(
                "--workers sets A3C's worker threads; {name} has none{}",
                if config.keys().contains(&"n_envs") {
                    format!(": it steps environments in lockstep, use --n-envs {w}")
                } else {
                    String::new()
                }
            )
            .into());
        }
        config.set(&format!("workers={w}"))?;
    }
    if let Some(n) = args.n_envs {
        if !config.keys().contains(&"n_envs") {
            return Err(format!(
                "--n-envs sets lockstep environments; {name} has none{}",
                if config.keys().contains(&"workers") {
                    format!(": A3C runs worker threads, use --workers {n}")
                } else {
                    String::new()
                }
            )
            .into());
        }
        config.set(&format!("n_envs={n}"))?;
    }
    if let Some(s) = args.steps {
        config.common.total_steps = s;
    }
    if let Some(e) = args.episodes {
        config.common.total_episodes = Some(e);
    }
    if let Some(s) = args.seed {
        config.common.seed = s;
    }
    let seeds = match &args.seeds {
        Some(spec) => {
            if args
                .sets
                .iter()
                .any(|s| s.split('=').next().is_some_and(|k| k.trim() == "seed"))
            {
                return Err("--seeds gives each run its seed: remove --set seed=... (or drop --seeds for a single run)".into());
            }
            Some(engram::seeds::parse_seeds(spec)?)
        }
        None => None,
    };
    if let Some(p) = &args.policy {
        config.net.policy = PolicyKind::parse(p)?;
        if config.net.policy == PolicyKind::Mlp
            && config.net.encoder_layers.is_empty()
            && !layers_set
        {
            // Without a recurrent core the encoder is the whole network: give it SB3's default.
            config.net.encoder_layers = vec![64, 64];
        }
    }
    if name == "a3c" && !args.quiet {
        let workers = config.algo::<algos::a3c::Config>().map_or(1, |c| c.workers);
        let cores = algos::available_cores();
        if workers > cores {
            say!(
                "warning: {workers} workers on {cores} available cores: workers will share cores and each runs slower"
            );
        }
    }
    let quiet = args.quiet;
    if let Some(seeds) = seeds {
        if !tensorboard_asked {
            // curves.csv is the multi-seed result; an event file per seed (2,000 TensorBoard
            // runs for the book's bandit figure) was a fifth of a short run's time.
            config.common.tensorboard = false;
        }
        if !curve_png_asked {
            // OUT/curve.png draws curves.csv; one picture per seed was three quarters of the
            // 2,000-run bandit figure's time.
            config.common.curve_png = false;
        }
        if !episode_logs_asked && config.common.total_episodes.is_none() {
            // With a step budget curves.csv is per step (metrics.csv); a row per episode in
            // two more files per seed was most of the bandit figure's writing (each pull is
            // an episode). Episode budgets need episodes.csv for their curves.
            config.common.episode_logs = false;
        }
        return train_seeds(config, &seeds, args.out.as_deref(), args.jobs, quiet);
    }
    let hyper = config.to_toml()?;
    let episode_budget = config.common.total_episodes;
    let summary = engram::train::train_with(config, args.out.as_deref(), quiet, |started| {
        set_run_dir(&started.run_dir);
        panic_if_asked();
        if !quiet {
            say!(
                "engram {}: training {name} on {env} -> {}",
                env!("CARGO_PKG_VERSION"),
                started.run_dir.display()
            );
            say!(
                "observation space {}, action space {}",
                started.observation_space,
                started.action_space
            );
            say!("hyper-parameters:\n{}", indent(&hyper));
        }
    })?;
    report(&summary, quiet);
    if let Some(episodes) = episode_budget {
        if summary.stop_reason == "budget" && summary.episodes < episodes {
            say!(
                "note: total_steps ({} env steps) ended the run after {} of total_episodes = {episodes}: \
                 both budgets apply and the first reached stops; give a larger --steps to reach the episodes",
                summary.env_steps,
                summary.episodes
            );
        }
    }
    Ok(exit_for(&summary))
}

/// `engram train ... --seeds SPEC`.
/// `engram train --ray ADDRESS`: hands the run to the Python package's Ray driver
/// (`python -m engram.distributed`), whose learner is this library.
fn train_on_ray(args: &TrainArgs, address: &str) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let python = std::env::var("ENGRAM_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import engram._engram"])
        .stderr(std::process::Stdio::null())
        .status();
    match probe {
        Err(e) => {
            return Err(format!(
                "--ray runs the Python package engram.distributed, and `{python}` cannot be \
                 started ({e}): install Python 3.9+ or point ENGRAM_PYTHON at its interpreter"
            )
            .into())
        }
        Ok(status) if !status.success() => {
            return Err(format!(
                "--ray runs the Python package engram.distributed, which `{python}` cannot \
                 import: install it (`pip install engram-rl`, or `maturin develop` in the \
                 repository) with Ray (`pip install 'ray[default]'`), or point ENGRAM_PYTHON at \
                 the interpreter that has them"
            )
            .into())
        }
        Ok(_) => {}
    }
    let mut command = std::process::Command::new(&python);
    command.args(["-m", "engram.distributed", "--ray", address]);
    if let Some(n) = args.ray_workers {
        command.args(["--ray-workers", &n.to_string()]);
    }
    match &args.resume {
        Some(dir) => {
            command.arg("--resume").arg(dir);
        }
        None => {
            let algo = args.algo.as_deref().unwrap_or("a3c");
            let Some(env) = &args.env else {
                return Err("--ray: give the environment with --env".into());
            };
            command.args([algo, env.as_str()]);
            if let Some(out) = &args.out {
                command.arg("--out").arg(out);
            }
        }
    }
    if let Some(steps) = args.steps {
        command.args(["--steps", &steps.to_string()]);
    }
    if let Some(seed) = args.seed {
        command.args(["--seed", &seed.to_string()]);
    }
    if let Some(episodes) = args.episodes {
        command.args(["--set", &format!("total_episodes={episodes}")]);
    }
    if let Some(policy) = &args.policy {
        command.args(["--set", &format!("policy=\"{policy}\"")]);
    }
    if let Some(n) = args.n_envs {
        command.args(["--set", &format!("n_envs={n}")]);
    }
    for s in &args.sets {
        command.args(["--set", s]);
    }
    if args.quiet {
        command.arg("--quiet");
    }
    let status = command.status()?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

fn train_seeds(
    config: RunConfig,
    seeds: &[u64],
    out: Option<&Path>,
    jobs: Option<usize>,
    quiet: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (name, env) = (config.common.algo.clone(), config.common.env.clone());
    let mut shown = config.clone();
    shown.common.seed = seeds[0];
    let hyper = shown.to_toml()?;
    let options = engram::seeds::SeedsOptions { jobs, quiet };
    let summary = engram::seeds::train_seeds(config, seeds, out, &options, |out, jobs| {
        set_run_dir(out);
        panic_if_asked();
        if !quiet {
            say!(
                "engram {}: training {name} on {env}, {} seeds ({}), {jobs} at a time -> {}/seed_N",
                env!("CARGO_PKG_VERSION"),
                seeds.len(),
                engram::seeds::format_seeds(seeds),
                out.display()
            );
            say!(
                "hyper-parameters (seed_{}'s; each run its own seed):\n{}",
                seeds[0],
                indent(&hyper)
            );
        }
    })?;
    Ok(report_seeds(&summary, quiet))
}

/// `engram train --resume OUT` on a multi-seed directory.
fn resume_seeds(
    dir: &Path,
    overrides: &[String],
    jobs: Option<usize>,
    quiet: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let options = engram::seeds::SeedsOptions { jobs, quiet };
    let summary = engram::seeds::resume_seeds(dir, overrides, &options, |out, jobs| {
        panic_if_asked();
        if !quiet {
            say!(
                "engram {}: resuming the multi-seed run in {}, {jobs} at a time",
                env!("CARGO_PKG_VERSION"),
                out.display()
            );
        }
    })?;
    Ok(report_seeds(&summary, quiet))
}

/// The closing lines of a multi-seed run: failures always, the rest unless quiet.
fn report_seeds(summary: &engram::seeds::SeedsSummary, quiet: bool) -> ExitCode {
    for run in &summary.runs {
        if let Some(error) = &run.error {
            say!("error: seed {} ({}): {error}", run.seed, run.run_dir);
        }
    }
    if !quiet {
        let across = |a: &engram::seeds::AcrossSeeds| match (a.mean, a.stderr) {
            (Some(m), Some(se)) => format!(
                "{m:.2} ± {se:.2} (mean ± standard error over {} seeds)",
                a.seeds
            ),
            (Some(m), None) => format!("{m:.2} (1 seed)"),
            _ => "-".to_string(),
        };
        say!(
            "done: {} seeds in {:.1}s ({} at a time): {} finished, {} interrupted, {} failed, {} not started",
            summary.runs.len(),
            summary.wall_seconds,
            summary.jobs,
            summary.finished,
            summary.interrupted,
            summary.failed,
            summary.not_started
        );
        say!("final eval return:       {}", across(&summary.final_eval));
        say!(
            "final train return(100): {}",
            across(&summary.final_train_return)
        );
        say!(
            "curves: {}/curves.csv (per {}), runs: {}/seed_N/",
            summary.out,
            summary.curves_axis,
            summary.out
        );
    }
    if summary.interrupted + summary.not_started > 0 {
        say!(
            "stopped before every seed finished: continue with `engram train --resume {}`",
            summary.out
        );
    }
    if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The closing lines of a run.
fn report(summary: &Summary, quiet: bool) {
    if quiet {
        return;
    }
    say!(
        "done ({}): {} env steps, {} episodes in {:.1}s ({:.0} steps/s), return(100) {}, solved: {}{}",
        summary.stop_reason,
        summary.env_steps,
        summary.episodes,
        summary.wall_seconds,
        summary.steps_per_second,
        summary
            .final_train_mean_return
            .map(|r| format!("{r:.1}"))
            .unwrap_or_else(|| "-".into()),
        summary.solved,
        summary
            .seconds_to_threshold
            .map(|s| format!(" after {s:.2}s"))
            .unwrap_or_default()
    );
    say!("run directory: {}", summary.run_dir);
}

fn exit_for(summary: &Summary) -> ExitCode {
    if summary.stop_reason == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `engram algos [NAME [--env ENV]]`.
fn print_algos(
    name: Option<&str>,
    env: Option<&str>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let Some(name) = name else {
        println!("algorithms (`engram algos NAME` lists one's options):");
        let width = REGISTRY.iter().map(|s| s.name.len()).max().unwrap_or(10);
        for spec in REGISTRY {
            println!("  {:<width$} {}", spec.name, spec.description);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let env = env.unwrap_or_else(|| {
        engram::algos::spec(name)
            .map(|s| s.example_env)
            .unwrap_or("CartPole-v1")
    });
    let config = RunConfig::tuned(name, env)?;
    let spec = config.spec();
    println!("{}: {}", spec.name, spec.description);
    println!(
        "\noptions (--set KEY=VALUE, or keys of a --config TOML file), defaults as tuned for {env}{}:",
        if RunConfig::has_tuned_entry(spec.name, env) {
            ""
        } else {
            " (no entry of its own: the algorithm's defaults)"
        }
    );
    let table = config.to_table();
    for key in config.keys() {
        let default = table.get(key).map(|v| v.to_string()).unwrap_or_default();
        println!(
            "  {key:<24} {}{}",
            doc(key).unwrap_or("(undocumented)"),
            if default.is_empty() {
                String::new()
            } else {
                format!(" [{default}]")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `engram envs | head` should stop quietly like any Unix tool, not panic on a closed pipe:
/// Rust ignores SIGPIPE by default, so restore the default action (not for `train`).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
