//! `engram envs` and `engram env replay`.

use std::path::PathBuf;
use std::process::ExitCode;

/// `engram envs`: every registered id with its spaces, time limit and reward threshold.
pub fn print_envs() {
    let mut rows = vec![[
        "id".to_string(),
        "observation space".into(),
        "action space".into(),
        "limit".into(),
        "threshold".into(),
    ]];
    for spec in engram_env::registry::specs() {
        let (obs, act) = match engram_env::registry::make(&spec.id, &Default::default()) {
            Ok(env) => (
                env.observation_space().to_string(),
                env.action_space().to_string(),
            ),
            Err(e) => (format!("(cannot make: {e})"), String::new()),
        };
        let limit = spec
            .max_episode_steps
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let threshold = spec
            .reward_threshold
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        rows.push([
            spec.id.clone(),
            shorten(obs),
            shorten(act),
            limit,
            threshold,
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        );
    }
}

/// Long spaces (POPGym's Concentration has 104 components) are cut to keep the table readable.
fn shorten(space: String) -> String {
    const MAX: usize = 48;
    if space.chars().count() <= MAX {
        return space;
    }
    let cut: String = space.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

/// `engram env replay FILE...`: exit 0 only if every file matched.
pub fn replay(files: &[PathBuf]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if files.is_empty() {
        return Err("give one or more reference trajectory files (rl-golden/1 JSON)".into());
    }
    let mut all_matched = true;
    for file in files {
        match engram_env::golden::replay_file(file) {
            Ok(report) => {
                print!("{report}");
                all_matched &= report.all_matched();
            }
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                all_matched = false;
            }
        }
    }
    Ok(if all_matched {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
