//! `engram bench`: the workloads of `engram::bench`, printed as a table or JSON lines.

use engram::bench;

/// `engram bench [FILTER] [--json] [--long]`.
pub fn run_cli(
    filter: Option<&str>,
    json: bool,
    long: bool,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let mut workloads = bench::nn_workloads();
    workloads.extend(bench::dqn_workloads());
    workloads.extend(bench::r2d2_workloads());

    workloads.extend(bench::sac_workloads());
    workloads.extend(bench::env_workloads());
    workloads.extend(bench::gemm_workloads());
    workloads.extend(bench::runtime_workloads());
    let mut results = Vec::new();
    let matches = |name: &str| filter.is_none_or(|f| name.contains(f));
    for w in workloads.iter().filter(|w| matches(&w.name)) {
        let r = bench::run_workloads(std::slice::from_ref(w), None, !long).remove(0);
        if json {
            println!("{}", r.to_json());
        } else {
            eprintln!(
                "{}",
                bench::format_table(std::slice::from_ref(&r))
                    .lines()
                    .nth(1)
                    .unwrap_or_default()
            );
        }
        results.push(r);
    }
    if matches("train_a3c_cartpole_lstm64") {
        let r = bench::train_throughput(if long { 10.0 } else { 3.0 })?;
        if json {
            println!("{}", r.to_json());
        }
        results.push(r);
    }
    if results.is_empty() {
        return Err(format!("no workload matches `{}`", filter.unwrap_or_default()).into());
    }
    if !json {
        print!("{}", bench::format_table(&results));
    }
    Ok(std::process::ExitCode::SUCCESS)
}
