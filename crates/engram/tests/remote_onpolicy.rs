//! PPO and A2C across machines without the machines: the remote collectors and the learner
//! that `engram.distributed` places in Ray actors, driven here in one process.

use engram::algos::remote::{check_remote, RolloutLearner, RolloutWorker};
use engram::train::{close, open_new, train};
use engram::RunConfig;

mod common;
use common::{metrics_without_time, monitor_without_time, tuned, with};

fn small(algo: &str, env: &str, steps: u64, extra: &[&str]) -> RunConfig {
    let mut settings = vec![
        format!("total_steps={steps}"),
        "seed=5".into(),
        "hidden_size=16".into(),
        "log_interval=1".into(),
        "checkpoint_interval=1000".into(),
        "eval_interval=0".into(),
    ];
    settings.extend(extra.iter().map(|s| s.to_string()));
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    with(tuned(algo, env), &settings)
}

/// A distributed-style run in `dir`: each update, every worker collects with the learner's
/// parameters and the learner learns from their rollouts side by side.
fn remote_run(config: RunConfig, dir: &std::path::Path, workers: usize) {
    let opened = open_new(config, Some(dir), true.into(), |_| {}).unwrap();
    let rc = opened.config.clone();
    let monitor = opened.session.monitor.clone();
    let mut learner = RolloutLearner::new(opened.session, opened.config).unwrap();
    let mut collectors: Vec<RolloutWorker> = (0..workers)
        .map(|w| RolloutWorker::new(&rc, workers, w as u64).unwrap())
        .collect();
    let mut params = vec![0.0; learner.run().num_params()];
    while learner.run().running() {
        let (version, finite) = learner.read_params(&mut params).unwrap();
        assert!(finite);
        let mut episodes = Vec::new();
        for c in &mut collectors {
            episodes.extend(c.collect(&params).unwrap());
        }
        let rollouts: Vec<&[f32]> = collectors.iter().map(|c| c.packed()).collect();
        assert!(learner.learn(&rollouts, &episodes).unwrap());
        assert_eq!(learner.run().version(), version + 1);
    }
    let (_, stop) = learner.finish().unwrap();
    close(&rc, &monitor, dir, Ok(stop)).unwrap();
}

fn assert_remote_is_local(config: RunConfig, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (local, remote) = (tmp.path().join("local"), tmp.path().join("remote"));
    train(config.clone(), Some(&local), true).unwrap();
    remote_run(config.clone(), &remote, 1);
    let rows = metrics_without_time(&remote);
    assert!(rows.len() >= 3, "{what}: expected a metrics row per update");
    assert_eq!(metrics_without_time(&local), rows, "{what}: metrics differ");
    let episodes = monitor_without_time(&remote);
    assert!(!episodes.is_empty(), "{what}: no finished episode");
    assert_eq!(
        monitor_without_time(&local),
        episodes,
        "{what}: episodes differ"
    );
    // Its checkpoint is a local run's: the local trainer continues it.
    let total = config.common.total_steps + 256;
    let resumed = engram::train::resume(&remote, &[format!("total_steps={total}")], true).unwrap();
    assert!(resumed.env_steps >= total, "{what}");
}

#[test]
fn one_remote_collector_is_local_ppo_and_a2c_bit_for_bit() {
    let ppo = ["n_envs=4", "t_max=32", "batch_size=64", "n_epochs=2"];
    assert_remote_is_local(small("ppo", "CartPole-v1", 512, &ppo), "ppo mlp");
    // Recurrent: the states at segment starts travel with the rollout.
    let lstm = [
        "n_envs=4",
        "t_max=32",
        "batch_size=64",
        "n_epochs=2",
        "policy=lstm",
    ];
    assert_remote_is_local(small("ppo", "CartPoleNoVel-v1", 512, &lstm), "ppo lstm");
    assert_remote_is_local(
        small("a2c", "CartPole-v1", 400, &["n_envs=4", "t_max=5"]),
        "a2c",
    );
}

#[test]
fn rollouts_of_several_workers_are_learned_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small(
        "ppo",
        "CartPoleNoVel-v1",
        512,
        &[
            "n_envs=4",
            "t_max=32",
            "batch_size=64",
            "n_epochs=1",
            "policy=gru",
        ],
    );
    remote_run(config, tmp.path(), 2);
    assert!(
        metrics_without_time(tmp.path()).len() >= 4,
        "a metrics row per update"
    );
    let resumed = engram::train::resume(tmp.path(), &["total_steps=640".into()], true).unwrap();
    assert!(resumed.env_steps >= 640);
}

#[test]
fn unsupported_settings_and_mismatched_buffers_are_refused() {
    let config = small(
        "ppo",
        "CartPole-v1",
        512,
        &["n_envs=4", "t_max=32", "batch_size=64"],
    );
    let err = check_remote(&config, 3).unwrap_err().to_string();
    assert!(
        err.contains("cannot be split evenly over 3 workers") && err.contains("n_envs=6"),
        "{err}"
    );
    for bad in ["normalize_observations=true", "normalize_rewards=true"] {
        let err = check_remote(&with(config.clone(), &[bad]), 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not supported across machines"),
            "{bad}: {err}"
        );
    }
    let err = check_remote(&tuned("dqn", "CartPole-v1"), 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("runs a3c, ppo or a2c, not dqn"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let opened = open_new(
        config.clone(),
        Some(&tmp.path().join("run")),
        true.into(),
        |_| {},
    )
    .unwrap();
    let mut learner = RolloutLearner::new(opened.session, opened.config).unwrap();
    let mut worker = RolloutWorker::new(&config, 2, 0).unwrap();
    let err = worker.collect(&[0.0; 3]).unwrap_err().to_string();
    assert!(err.contains("3 numbers"), "{err}");
    let mut params = vec![0.0; learner.run().num_params()];
    learner.read_params(&mut params).unwrap();
    worker.collect(&params).unwrap();
    // Two workers' rollouts expected, one given: the buffer is half the size needed.
    let err = learner
        .learn(&[worker.packed()], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("worker 0") && err.contains("another configuration"),
        "{err}"
    );
    let err = learner
        .learn(&[worker.packed(); 3], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 rollouts for n_envs = 4"), "{err}");
    params[2] = f32::INFINITY;
    let err = worker.collect(&params).unwrap_err().to_string();
    assert!(err.contains("inf"), "{err}");
}
