//! A3C across machines without the machines: the learner and worker halves that
//! `engram.distributed` places in Ray actors, driven here in one process.

use engram::algos::a3c::{RemoteLearner, RemoteWorker};
use engram::error::TrainError;
use engram::train::{close, open_new, train};
use engram::RunConfig;

mod common;
use common::{metrics_without_time, tuned, with};

fn small(steps: u64) -> RunConfig {
    with(
        tuned("a3c", "CartPole-v1"),
        &[
            "workers=1",
            &format!("total_steps={steps}"),
            "seed=7",
            "hidden_size=16",
            "log_interval=500",
            "checkpoint_interval=1000",
            "eval_interval=0",
        ],
    )
}

/// Runs a distributed-style run in `dir`: the learner applies the workers' gradients in turn.
fn remote_run(config: RunConfig, dir: &std::path::Path, streams: &[u64]) {
    let opened = open_new(config, Some(dir), true.into(), |_| {}).unwrap();
    let rc = opened.config.clone();
    let monitor = opened.session.monitor.clone();
    let mut learner = RemoteLearner::new(opened.session, opened.config).unwrap();
    let mut workers: Vec<RemoteWorker> = streams
        .iter()
        .map(|&s| RemoteWorker::new(&rc, s).unwrap())
        .collect();
    let mut params = vec![0.0; learner.run().num_params()];
    let mut w = 0;
    while learner.run().running() {
        let (version, finite) = learner.read_params(&mut params).unwrap();
        assert!(finite);
        let update = workers[w].compute(&params).unwrap();
        let grads = workers[w].grads().to_vec();
        assert!(learner.apply(w, &grads, &update).unwrap());
        assert_eq!(learner.run().version(), version + 1);
        w = (w + 1) % workers.len();
    }
    let (_, stop) = learner.finish().unwrap();
    close(&rc, &monitor, dir, Ok(stop)).unwrap();
}

#[test]
fn one_remote_worker_is_local_a3c_with_one_thread_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let (local, remote) = (tmp.path().join("local"), tmp.path().join("remote"));
    train(small(3000), Some(&local), true).unwrap();
    remote_run(small(3000), &remote, &[0]);
    let rows = metrics_without_time(&remote);
    assert!(rows.len() >= 6, "expected a metrics row per 500 steps");
    assert_eq!(metrics_without_time(&local), rows);
    // Its checkpoint is an A3C run's: the local trainer continues it.
    let resumed = engram::train::resume(&remote, &["total_steps=4000".into()], true).unwrap();
    assert!(resumed.env_steps >= 4000);
}

#[test]
fn mismatched_buffers_and_settings_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let opened = open_new(
        small(1000),
        Some(&tmp.path().join("run")),
        true.into(),
        |_| {},
    )
    .unwrap();
    let rc = opened.config.clone();
    let mut learner = RemoteLearner::new(opened.session, opened.config).unwrap();
    let mut worker = RemoteWorker::new(&rc, 0).unwrap();
    let err = worker.compute(&[0.0; 3]).unwrap_err().to_string();
    assert!(err.contains("3 numbers"), "{err}");
    let mut params = vec![0.0; learner.run().num_params()];
    learner.read_params(&mut params).unwrap();
    params[1] = f32::NAN;
    let err = worker.compute(&params).unwrap_err().to_string();
    assert!(err.contains("NaN"), "{err}");
    let update = Default::default();
    let err = learner
        .apply(0, &[1.0; 5], &update)
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 numbers"), "{err}");
    for bad in ["normalize_observations=true", "normalize_rewards=true"] {
        let config = with(small(1000), &[bad]);
        match RemoteWorker::new(&config, 0) {
            Err(TrainError::Usage(m)) => assert!(m.contains("not supported across machines")),
            _ => panic!("{bad} accepted"),
        }
    }
    let ppo = tuned("ppo", "CartPole-v1");
    let err = engram::algos::a3c::check_remote(&ppo)
        .unwrap_err()
        .to_string();
    assert!(err.contains("runs A3C, not ppo"), "{err}");
}
