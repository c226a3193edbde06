//! What a run writes for other tools to read: SB3's `monitor.csv` and TensorBoard event files.
//! (`python/tests/test_tensorboard.py` reads the event files with TensorBoard's own reader.)

use engram::train::{resume, train};
use engram::RunConfig;
use std::fs;
use std::path::{Path, PathBuf};

mod common;
use common::{load_monitor, monitor_without_time, tuned, with};

fn small(algo: &str, steps: u64) -> RunConfig {
    let envs = if algo == "a3c" {
        "workers=1"
    } else {
        "n_envs=4"
    };
    with(
        tuned(algo, "CartPole-v1"),
        &[
            envs,
            &format!("total_steps={steps}"),
            "seed=3",
            "hidden_size=16",
            "encoder_layers=[16]",
            "log_interval=500",
            "checkpoint_interval=2000",
            "eval_interval=2000",
            "eval_episodes=2",
        ],
    )
}

#[test]
fn monitor_csv_has_one_row_per_training_episode_in_sb3_format() {
    for (algo, extra) in [("a2c", "n_envs=4"), ("a3c", "workers=2"), ("dqn", "seed=3")] {
        let tmp = tempfile::tempdir().unwrap();
        let c = with(small(algo, 4000), &[extra]);
        let summary = train(c, Some(tmp.path()), true).unwrap();
        let m = load_monitor(tmp.path());
        assert_eq!(m.env_id, "CartPole-v1");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            m.t_start <= now && m.t_start > now - 600.0,
            "{algo}: t_start {} is not this run's start",
            m.t_start
        );
        assert_eq!(
            m.rows.len() as u64,
            summary.episodes,
            "{algo}: one row per episode"
        );
        assert!(summary.episodes > 10, "{algo}: {}", summary.episodes);
        let steps_in_episodes: u64 = m.rows.iter().map(|r| r.1).sum();
        assert!(steps_in_episodes <= summary.env_steps, "{algo}");
        // CartPole pays 1 per step: a return is its length.
        assert!(m.rows.iter().all(|&(r, l, _)| r == l as f64), "{algo}");
        // The last 100 rows are the window behind summary.json's training mean.
        let last: Vec<f64> = m.rows.iter().rev().take(100).map(|r| r.0).collect();
        let mean = last.iter().sum::<f64>() / last.len() as f64;
        let expected = summary.final_train_mean_return.unwrap();
        assert!(
            (mean - expected).abs() < 1e-9,
            "{algo}: {mean} vs {expected}"
        );
        let last_t = m.rows.last().unwrap().2;
        assert!(last_t <= summary.wall_seconds + 1e-6, "{algo}");
    }
}

#[test]
fn resume_after_a_crash_continues_monitor_csv_as_if_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, crashed) = (tmp.path().join("whole"), tmp.path().join("crashed"));
    train(small("a3c", 4000), Some(&whole), true).unwrap();
    // As if killed while writing at 4000 steps after the checkpoint at 2000: the rows up to
    // 4000 exist, the last one torn; the checkpoint is that of 2000 steps.
    train(small("a3c", 4000), Some(&crashed), true).unwrap();
    let mid = tmp.path().join("mid");
    train(small("a3c", 2000), Some(&mid), true).unwrap();
    fs::copy(
        mid.join("checkpoints/latest.safetensors"),
        crashed.join("checkpoints/latest.safetensors"),
    )
    .unwrap();
    let mut text = fs::read_to_string(crashed.join("monitor.csv")).unwrap();
    text.push_str("17.0,1");
    fs::write(crashed.join("monitor.csv"), &text).unwrap();
    let first_header = text.lines().next().unwrap().to_string();
    resume(&crashed, &[], true).unwrap();
    assert_eq!(
        monitor_without_time(&crashed),
        monitor_without_time(&whole),
        "the resumed monitor.csv equals the uninterrupted one"
    );
    let after = fs::read_to_string(crashed.join("monitor.csv")).unwrap();
    assert_eq!(
        after.lines().next().unwrap(),
        first_header,
        "a resumed run keeps the header"
    );
    assert_eq!(after.matches("r,l,t").count(), 1);
}

/// The records of a TensorBoard event file, each CRC checked.
fn event_records(path: &Path) -> Vec<Vec<u8>> {
    use engram::runtime::tensorboard::masked_crc32c;
    let bytes = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let crc = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
        assert_eq!(crc(&bytes[at + 8..at + 12]), masked_crc32c(len_bytes));
        let data = &bytes[at + 12..at + 12 + len];
        assert_eq!(
            crc(&bytes[at + 12 + len..at + 16 + len]),
            masked_crc32c(data)
        );
        out.push(data.to_vec());
        at += 16 + len;
    }
    out
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir.join("tb")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn tensorboard_events_hold_every_metrics_and_evals_row_unless_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let on = tmp.path().join("on");
    train(small("a2c", 4000), Some(&on), true).unwrap();
    let files = event_files(&on);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let rows = |file: &str| fs::read_to_string(on.join(file)).unwrap().lines().count() - 1;
    let records = event_records(&files[0]);
    assert_eq!(
        records.len(),
        1 + rows("metrics.csv") + rows("evals.csv"),
        "the version event, then one event per row"
    );
    let all: Vec<u8> = records.concat();
    let has = |tag: &str| all.windows(tag.len()).any(|w| w == tag.as_bytes());
    for tag in [
        "rollout/ep_rew_mean",
        "train/value_loss",
        "train/entropy_loss",
        "train/learning_rate",
        "time/fps",
        "eval/mean_reward",
    ] {
        assert!(has(tag), "no {tag}");
    }
    // A resumed run adds a file.
    resume(&on, &["total_steps=5000".into()], true).unwrap();
    assert_eq!(event_files(&on).len(), 2);

    let off = tmp.path().join("off");
    train(
        with(small("a2c", 1000), &["tensorboard=false"]),
        Some(&off),
        true,
    )
    .unwrap();
    assert!(!off.join("tb").exists());
    assert!(off.join("monitor.csv").exists());
}
