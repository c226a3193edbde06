//! What the user sees while training: a progress bar on a terminal, plain log lines elsewhere
//! (CI logs, files, pipes), and a graceful stop on Ctrl-C / SIGTERM.

use super::metrics::MetricsRow;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

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

/// Reports training progress.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    /// `total` env steps; `start` for resumed runs. A bar only when stderr is a terminal.
    pub fn new(total: u64, start: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} steps  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_position(start);
            bar
        });
        Progress { bar, quiet }
    }

    pub fn update(&self, row: &MetricsRow) {
        let ret = row
            .mean_return
            .map(|r| format!("{r:.1}"))
            .unwrap_or_else(|| "-".into());
        match &self.bar {
            Some(bar) => {
                bar.set_position(row.env_steps);
                bar.set_message(format!(
                    "{:.0} steps/s  return(100) {ret}  episodes {}",
                    row.steps_per_second, row.episodes
                ));
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
