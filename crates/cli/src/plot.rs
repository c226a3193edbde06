//! `engram plot RUN... [-o curve.png|curve.svg] [--x steps|episodes|time] [--y return|eval|METRIC]`.

use engram::plot::{chart_of, XAxis, YAxis};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run_cli(
    runs: &[PathBuf],
    out: &Path,
    x: &str,
    y: &str,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let x = XAxis::parse(x)?;
    let y = YAxis::parse(y);
    let chart = chart_of(runs, x, &y)?;
    chart.write(out)?;
    let bands = chart.series.iter().filter(|s| !s.band.is_empty()).count();
    println!(
        "wrote {} ({} curve{}{}{})",
        out.display(),
        chart.series.len(),
        if chart.series.len() == 1 { "" } else { "s" },
        if bands > 0 {
            format!(", {bands} with a standard-error band")
        } else {
            String::new()
        },
        chart
            .hlines
            .iter()
            .map(|h| format!(", {}", h.label))
            .collect::<String>()
    );
    Ok(ExitCode::SUCCESS)
}
