//! Episode budgets and many seeds at once: `total_episodes` stops runs where it should and
//! resumes exactly; the multi-seed runner lays out one ordinary run per seed (each
//! identical to a single run with that seed), writes curves.csv from their files, and
//! resumes the seeds that did not finish.

use engram::runtime::Summary;
use engram::seeds::{resume_seeds, train_seeds, SeedsOptions, SeedsSummary};
use engram::train::{resume, train};
use engram::RunConfig;
use std::fs;
use std::path::Path;

mod common;
use common::{bytes, tuned, with};

/// A small, fast run on CartPole.
fn tiny(algo: &str, settings: &[&str]) -> RunConfig {
    let mut c = with(
        tuned(algo, "CartPole-v1"),
        &[
            "policy=mlp",
            "encoder_layers=[8]",
            "log_interval=200",
            "checkpoint_interval=100000",
            "eval_interval=0",
            "seed=1",
        ],
    );
    if algo == "a3c" {
        c = with(c, &["workers=2"]);
    }
    with(c, settings)
}

fn summary(dir: &Path) -> Summary {
    serde_json::from_slice(&fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// `(episode, env_steps, return, length)` rows of a run's episodes.csv.
fn episodes(dir: &Path) -> Vec<(u64, u64, f64, u64)> {
    let text = fs::read_to_string(dir.join("episodes.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("episode,env_steps,return,length"));
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
                c[3].parse().unwrap(),
            )
        })
        .collect()
}

fn quiet(jobs: usize) -> SeedsOptions {
    SeedsOptions {
        jobs: Some(jobs),
        quiet: true,
    }
}

#[test]
fn total_episodes_stops_at_the_update_that_ends_the_last_episode() {
    let tmp = tempfile::tempdir().unwrap();
    // Updates after every episode (REINFORCE) or every step (DQN): exactly the budget.
    for (algo, settings) in [
        ("reinforce", &["episodes_per_update=1"][..]),
        (
            "dqn",
            &["train_freq=1", "learning_starts=50", "buffer_size=1000"][..],
        ),
    ] {
        let dir = tmp.path().join(algo);
        let mut c = tiny(algo, settings);
        c.common.total_episodes = Some(7);
        let s = train(c, Some(&dir), true).unwrap();
        assert_eq!(s.episodes, 7, "{algo}");
        assert_eq!(s.stop_reason, "budget", "{algo}");
        let rows = episodes(&dir);
        let numbers: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, (1..=7).collect::<Vec<_>>(), "{algo}");
        assert_eq!(
            rows.iter().map(|r| r.3).sum::<u64>(),
            s.env_steps,
            "{algo}: the episodes' lengths add up to the steps (no step after the last episode)"
        );
    }
    // Rollouts (A2C's 4 envs x t_max, A3C's workers) finish the one in progress.
    for algo in ["a2c", "a3c", "ppo"] {
        let dir = tmp.path().join(algo);
        let mut c = tiny(algo, &[]);
        c.common.total_episodes = Some(7);
        let s = train(c, Some(&dir), true).unwrap();
        assert!(
            s.episodes >= 7 && s.episodes < 40,
            "{algo}: {} episodes",
            s.episodes
        );
        assert!(
            s.env_steps < 1_000_000,
            "{algo}: the step budget did not stop it"
        );
        assert_eq!(episodes(&dir).len() as u64, s.episodes, "{algo}");
    }
    // The step budget, reached first, stops a run with an episode budget too.
    let mut c = tiny("reinforce", &["total_steps=300"]);
    c.common.total_episodes = Some(1000);
    let s = train(c, Some(&tmp.path().join("steps_first")), true).unwrap();
    assert!(s.episodes < 1000 && s.env_steps >= 300, "{s:?}");
}

#[test]
fn an_episode_budget_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    let c = tiny("reinforce", &["episodes_per_update=2", "total_episodes=12"]);
    train(c.clone(), Some(&whole), true).unwrap();
    train(with(c, &["total_episodes=6"]), Some(&split), true).unwrap();
    assert_eq!(summary(&split).episodes, 6);
    let s = resume(&split, &["total_episodes=12".into()], true).unwrap();
    assert_eq!(s.episodes, 12);
    assert!(
        bytes(&whole, "checkpoints/latest.safetensors")
            == bytes(&split, "checkpoints/latest.safetensors"),
        "the resumed run diverged from the uninterrupted one"
    );
    assert_eq!(episodes(&whole), episodes(&split));
}

#[test]
fn three_seeds_give_three_single_runs_and_their_curves() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("multi");
    // A2C's fixed rollouts give every seed the same step grid (REINFORCE's whole episodes
    // would not: its rows are aligned by carrying values forward).
    let c = tiny("a2c", &["total_steps=1000"]);
    let mut announced = None;
    let s = train_seeds(c.clone(), &[0, 1, 2], Some(&out), &quiet(2), |dir, jobs| {
        announced = Some((dir.to_path_buf(), jobs));
    })
    .unwrap();
    assert_eq!(announced, Some((out.clone(), 2)));
    assert_eq!((s.finished, s.failed, s.runs.len()), (3, 0, 3));
    for f in ["seeds.toml", "curves.csv", "seeds_summary.json"] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let back: SeedsSummary =
        serde_json::from_slice(&fs::read(out.join("seeds_summary.json")).unwrap()).unwrap();
    assert_eq!(back.seeds, "0-2");
    // Each seed's run is the single run with that seed, byte for byte.
    let single = tmp.path().join("single_1");
    train(with(c, &["seed=1"]), Some(&single), true).unwrap();
    assert!(
        bytes(&single, "checkpoints/latest.safetensors")
            == bytes(&out.join("seed_1"), "checkpoints/latest.safetensors")
    );
    assert_eq!(summary(&out.join("seed_2")).seed, 2);
    // curves.csv: every row averages the three seeds' rows at that step.
    let curves = fs::read_to_string(out.join("curves.csv")).unwrap();
    let header: Vec<&str> = curves.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[..4],
        [
            "env_steps",
            "seeds",
            "wall_seconds_mean",
            "wall_seconds_stderr"
        ]
    );
    let at = header
        .iter()
        .position(|h| *h == "mean_return_mean")
        .unwrap();
    assert_eq!(header[at + 1], "mean_return_stderr");
    let metrics: Vec<Vec<Vec<String>>> = (0..3)
        .map(|s| {
            fs::read_to_string(out.join(format!("seed_{s}/metrics.csv")))
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| l.split(',').map(String::from).collect())
                .collect()
        })
        .collect();
    let rows: Vec<&str> = curves.lines().skip(1).collect();
    assert_eq!(rows.len(), metrics[0].len());
    for (r, row) in rows.iter().enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells[0], metrics[0][r][0], "the seeds share the step grid");
        assert_eq!(cells[1], "3");
        let returns: Vec<f64> = metrics.iter().map(|m| m[r][4].parse().unwrap()).collect();
        let mean = returns.iter().sum::<f64>() / 3.0;
        let var = returns.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0;
        let got_mean: f64 = cells[at].parse().unwrap();
        let got_se: f64 = cells[at + 1].parse().unwrap();
        assert!(
            (got_mean - mean).abs() < 1e-5,
            "row {r}: {got_mean} vs {mean}"
        );
        assert!((got_se - (var / 3.0).sqrt()).abs() < 1e-5, "row {r}");
    }
}

#[test]
fn episode_budgets_give_curves_per_episode() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("multi");
    let c = tiny("reinforce", &["episodes_per_update=1", "total_episodes=5"]);
    let s = train_seeds(c, &[3, 8], Some(&out), &quiet(2), |_, _| {}).unwrap();
    assert_eq!(s.curves_axis, "episode");
    let curves = fs::read_to_string(out.join("curves.csv")).unwrap();
    let header: Vec<&str> = curves.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[..4],
        ["episode", "seeds", "env_steps_mean", "env_steps_stderr"]
    );
    let at = header.iter().position(|h| *h == "return_mean").unwrap();
    let (a, b) = (episodes(&out.join("seed_3")), episodes(&out.join("seed_8")));
    let rows: Vec<Vec<&str>> = curves
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 5);
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (k + 1).to_string());
        let mean: f64 = row[at].parse().unwrap();
        assert!((mean - (a[k].2 + b[k].2) / 2.0).abs() < 1e-5, "{row:?}");
    }
}

#[test]
fn a_multi_seed_run_resumes_the_seeds_that_did_not_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("multi");
    let c = tiny("a2c", &["total_steps=800", "checkpoint_interval=400"]);
    train_seeds(c, &[0, 1, 2], Some(&out), &quiet(3), |_, _| {}).unwrap();
    let finals: Vec<Vec<u8>> = (0..3)
        .map(|s| {
            bytes(
                &out.join(format!("seed_{s}")),
                "checkpoints/latest.safetensors",
            )
        })
        .collect();
    // seed_0 finished; seed_1 stopped before its first checkpoint; seed_2 never started.
    fs::remove_dir_all(out.join("seed_1/checkpoints")).unwrap();
    fs::remove_file(out.join("seed_1/summary.json")).unwrap();
    fs::remove_dir_all(out.join("seed_2")).unwrap();
    let s = resume_seeds(&out, &[], &quiet(2), |_, _| {}).unwrap();
    let status: Vec<&str> = s.runs.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(status, ["finished before", "trained", "trained"]);
    for (seed, bytes_before) in finals.iter().enumerate() {
        assert!(
            &bytes(
                &out.join(format!("seed_{seed}")),
                "checkpoints/latest.safetensors"
            ) == bytes_before,
            "seed {seed} differs after the restart"
        );
    }
    // Everything done: a resume without a larger budget says so.
    let err = resume_seeds(&out, &[], &quiet(2), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("every seed") && err.contains("--steps"),
        "{err}"
    );
    // A larger budget resumes every seed.
    let s = resume_seeds(&out, &["total_steps=1200".into()], &quiet(2), |_, _| {}).unwrap();
    assert!(s.runs.iter().all(|r| r.status == "resumed"), "{:?}", s.runs);
    for seed in 0..3 {
        assert!(summary(&out.join(format!("seed_{seed}"))).env_steps >= 1200);
    }
    // A seed's directory stays an ordinary run directory.
    let r = resume(&out.join("seed_1"), &["total_steps=1600".into()], true).unwrap();
    assert!(r.env_steps >= 1600);
}

#[test]
fn out_directories_holding_a_run_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tiny("reinforce", &["total_steps=300"]);
    let single = tmp.path().join("single");
    train(c.clone(), Some(&single), true).unwrap();
    let err = train_seeds(c.clone(), &[0, 1], Some(&single), &quiet(1), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds a single run") && err.contains("another --out"),
        "{err}"
    );
    let multi = tmp.path().join("multi");
    train_seeds(c.clone(), &[0], Some(&multi), &quiet(1), |_, _| {}).unwrap();
    let err = train_seeds(c, &[0, 1], Some(&multi), &quiet(1), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already holds a multi-seed run") && err.contains("--resume"),
        "{err}"
    );
    let err = resume_seeds(&multi, &["seed=4".into()], &quiet(1), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("keeps its seeds"), "{err}");
    let err = engram::play::resolve_checkpoint(&multi, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("multi-seed run") && err.contains("seed_0"),
        "{err}"
    );
}

/// The bandit figure's multi-seed run, light: curves.csv averaged in memory as the seeds end
/// equals curves.csv computed from the seeds' files, byte for byte; with `episode_logs =
/// false` the seeds keep metrics.csv, summary and checkpoint but no per-episode files, each
/// seed's checkpoint equals its single run's, the final checkpoint is written once, and the
/// run resumes to a larger budget (curves from the files then).
#[test]
fn light_seeds_average_in_memory_as_the_files_would() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("multi");
    let c = with(
        tuned("bandit", "Bandit-v0"),
        &[
            "total_steps=300",
            "checkpoint_interval=300",
            "episode_logs=false",
            "curve_png=false",
            "tensorboard=false",
        ],
    );
    // Five seeds, given out of order, added in the curve threads' shares in seed order.
    let s = train_seeds(
        c.clone(),
        &[4, 0, 3, 1, 2],
        Some(&out),
        &quiet(2),
        |_, _| {},
    )
    .unwrap();
    assert_eq!((s.finished, s.failed), (5, 0));
    let seed_dir = out.join("seed_3");
    for f in [
        "metrics.csv",
        "summary.json",
        "values.json",
        "checkpoints/latest.safetensors",
    ] {
        assert!(seed_dir.join(f).exists(), "missing {f}");
    }
    for f in ["monitor.csv", "episodes.csv"] {
        assert!(
            !seed_dir.join(f).exists(),
            "{f} written with episode_logs = false"
        );
    }
    assert!(summary(&seed_dir).final_train_mean_return.is_some());
    let in_memory = fs::read(out.join("curves.csv")).unwrap();
    let dirs: Vec<_> = (0..5).map(|s| out.join(format!("seed_{s}"))).collect();
    let threads = 2.max(engram::algos::available_cores());
    let from_files = tmp.path().join("files");
    fs::create_dir_all(&from_files).unwrap();
    engram::seeds::curves::write_curves(
        &from_files,
        &dirs,
        engram::seeds::curves::Axis::Steps,
        threads,
    )
    .unwrap();
    assert!(
        in_memory == fs::read(from_files.join("curves.csv")).unwrap(),
        "curves.csv from memory differs from the files'"
    );
    // A seed is its single run (the checkpoint at the budget, not rewritten at the end), and
    // resumes to the single run of the larger budget.
    let single = tmp.path().join("single_3");
    train(with(c.clone(), &["seed=3"]), Some(&single), true).unwrap();
    assert!(
        bytes(&single, "checkpoints/latest.safetensors")
            == bytes(&seed_dir, "checkpoints/latest.safetensors")
    );
    let s = resume_seeds(&out, &["total_steps=400".into()], &quiet(2), |_, _| {}).unwrap();
    assert!(s.runs.iter().all(|r| r.status == "resumed"), "{:?}", s.runs);
    let longer = tmp.path().join("single_3_400");
    train(with(c, &["seed=3", "total_steps=400"]), Some(&longer), true).unwrap();
    assert!(
        bytes(&longer, "checkpoints/latest.safetensors")
            == bytes(&seed_dir, "checkpoints/latest.safetensors")
    );
    let curves = fs::read_to_string(out.join("curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 401, "a row per pull, 1-400");
    assert!(curves.lines().last().unwrap().starts_with("400,5,"));
    // Curves per episode need the episode files: refused up front.
    let err = train_seeds(
        with(
            tuned("bandit", "Bandit-v0"),
            &["total_episodes=10", "episode_logs=false"],
        ),
        &[0, 1],
        Some(&tmp.path().join("episodic")),
        &quiet(2),
        |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("episode_logs"), "{err}");
}
