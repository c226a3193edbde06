//! What the user sees while training: a progress bar on a terminal, plain log lines elsewhere
//! (CI logs, files, pipes), and a graceful stop on Ctrl-C / SIGTERM.

use super::metrics::{LoggedRows, MetricsRow};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// `eprintln!` that ignores a closed stderr (a training run piped into `head` must go on, and
/// save, rather than panic on a failed progress line).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Set to stop training gracefully: training loops poll it, save a checkpoint and exit
/// cleanly. The library installs no signal handler itself (an embedding program, such as the
/// Python binding, keeps its own); the CLI calls [`install_signal_handler`].
pub fn stop_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Makes Ctrl-C and SIGTERM set [`stop_flag`] (a second Ctrl-C quits at once). Call it first
/// thing: a signal in the first milliseconds of a run must still mean "save and stop".
pub fn install_signal_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let flag = stop_flag().clone();
        // Fails only if another handler is installed (e.g. by an embedding program): then
        // that program decides what a signal means.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C means "now".
                std::process::exit(130);
            }
            note!("\nstop requested: saving a checkpoint (Ctrl-C again to quit at once)");
        });
    });
}

/// How a run reports its progress.
#[derive(Clone, Debug, Default)]
pub enum Report {
    /// A bar on a terminal, plain lines elsewhere.
    #[default]
    Shown,
    /// Nothing.
    Quiet,
    /// Nothing printed: each metrics row stores the run's counters in a [`LiveCounters`]
    /// (the multi-seed runner sums its runs' into one progress line).
    Live(Arc<LiveCounters>),
}

impl From<bool> for Report {
    /// `quiet`.
    fn from(quiet: bool) -> Report {
        if quiet {
            Report::Quiet
        } else {
            Report::Shown
        }
    }
}

/// A run's counters as of its last metrics row, readable from another thread.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub env_steps: AtomicU64,
    pub episodes: AtomicU64,
    /// Some: every metrics row is also kept here ([`LoggedRows`]), for whoever averages runs.
    pub rows: Mutex<Option<LoggedRows>>,
}

/// Reports training progress.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    live: Option<Arc<LiveCounters>>,
    /// The bar counts episodes (the run has an episode budget), not env steps.
    episodes: bool,
}

/// The progress bar's layout for counting `unit`. A line longer than the terminal wraps, and
/// the bar then shrinks to nothing: a narrow terminal gets a short bar and the message cut to
/// fit instead.
pub fn bar_template(unit: &str) -> String {
    match terminal_columns() {
        Some(columns) if columns < 110 => format!(
            "{{spinner}} {{human_pos}}/{{human_len}} {unit} {{bar:12}} ETA {{eta}}  {{wide_msg}}"
        ),
        _ => format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit}  ETA {{eta}}  {{msg}}"
        ),
    }
}

/// Columns of the terminal on stderr, when the system says (Linux).
fn terminal_columns() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: TIOCGWINSZ writes one `winsize` into the zeroed struct it is given.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col > 0 {
            return Some(size.ws_col as usize);
        }
    }
    None
}

impl Progress {
    /// `total_steps`, or `total_episodes` when the run has an episode budget (the bar counts
    /// those then); `start`: the (env steps, episodes) done before (resumed runs). A bar only
    /// when stderr is a terminal.
    pub fn new(
        total_steps: u64,
        total_episodes: Option<u64>,
        start: (u64, u64),
        report: Report,
    ) -> Progress {
        let (quiet, live) = match report {
            Report::Shown => (false, None),
            Report::Quiet => (true, None),
            Report::Live(counters) => {
                counters.env_steps.store(start.0, Ordering::Relaxed);
                counters.episodes.store(start.1, Ordering::Relaxed);
                (true, Some(counters))
            }
        };
        let (total, position, unit) = match total_episodes {
            Some(episodes) => (episodes, start.1, "episodes"),
            None => (total_steps, start.0, "steps"),
        };
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            let template = bar_template(unit);
            bar.set_style(
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_position(position);
            bar
        });
        Progress {
            bar,
            quiet,
            live,
            episodes: total_episodes.is_some(),
        }
    }

    pub fn update(&self, row: &MetricsRow) {
        if let Some(live) = &self.live {
            live.env_steps.store(row.env_steps, Ordering::Relaxed);
            live.episodes.store(row.episodes, Ordering::Relaxed);
            if let Some(rows) = super::lock(&live.rows).as_mut() {
                rows.push(row);
            }
            return;
        }
        if self.quiet && self.bar.is_none() {
            return;
        }
        let ret = row
            .mean_return
            .map(|r| format!("{r:.1}"))
            .unwrap_or_else(|| "-".into());
        match &self.bar {
            Some(bar) => {
                if self.episodes {
                    bar.set_position(row.episodes);
                    bar.set_message(format!(
                        "return(100) {ret}  {:.0} steps/s  steps {}",
                        row.steps_per_second, row.env_steps
                    ));
                } else {
                    bar.set_position(row.env_steps);
                    bar.set_message(format!(
                        "return(100) {ret}  {:.0} steps/s  episodes {}",
                        row.steps_per_second, row.episodes
                    ));
                }
            }
            None if !self.quiet => note!(
                "steps {:>10}  time {:>7.1}s  steps/s {:>9.0}  episodes {:>6}  return(100) {:>8}{}",
                row.env_steps,
                row.wall_seconds,
                row.steps_per_second,
                row.episodes,
                ret,
                row.metric("entropy")
                    .map(|e| format!("  entropy {e:.3}"))
                    .unwrap_or_default()
            ),
            None => {}
        }
    }

    /// A line that must be seen (evaluation results, warnings), printed above the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.quiet => note!("{line}"),
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
