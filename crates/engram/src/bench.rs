//! Placeholder until the nn benchmark workloads land.
use std::process::ExitCode;
pub fn run_cli(
    _filter: Option<&str>,
    _json: bool,
    _long: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("not yet".into())
}
