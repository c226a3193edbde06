//! Parity with Gymnasium 1.4: replay every golden file of the built-in environments.

mod golden_common;

use engram_env::golden::{replay_file, replay_file_with, ReplayError, ReplayOptions, RngStrategy};
use golden_common::golden_dir;

fn check(file: &str) {
    let path = golden_dir().join(file);
    let report = replay_file(&path).unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    assert!(report.all_matched(), "{report}");
    assert_eq!(report.rollouts.len(), 3);
    for r in &report.rollouts {
        assert_eq!(r.steps_compared, 500, "{report}");
    }
}

macro_rules! golden {
    ($($name:ident => $file:expr,)*) => { $( #[test] fn $name() { check($file); } )* };
}

golden! {
    cartpole => "CartPole-v1.json",
    acrobot => "Acrobot-v1.json",
    mountain_car => "MountainCar-v0.json",
    mountain_car_continuous => "MountainCarContinuous-v0.json",
    pendulum => "Pendulum-v1.json",
    frozen_lake => "FrozenLake-v1.json",
    frozen_lake_not_slippery => "FrozenLake-v1__is_slippery=False.json",
    frozen_lake_8x8 => "FrozenLake8x8-v1.json",
    frozen_lake_8x8_not_slippery => "FrozenLake8x8-v1__is_slippery=False.json",
    cliff_walking => "CliffWalking-v1.json",
    cliff_walking_slippery => "CliffWalkingSlippery-v1.json",
    taxi => "Taxi-v4.json",
    blackjack => "Blackjack-v1.json",
}

/// Both draw strategies must reproduce the stochastic files on their own.
#[test]
fn injected_and_pcg64_draws_both_match() {
    for file in [
        "FrozenLake-v1.json",
        "Taxi-v4.json",
        "Blackjack-v1.json",
        "CartPole-v1.json",
    ] {
        for rng in [RngStrategy::Inject, RngStrategy::Pcg64] {
            let opts = ReplayOptions {
                rng,
                ..Default::default()
            };
            let report = replay_file_with(&golden_dir().join(file), &opts).unwrap();
            assert!(report.all_matched(), "{report}");
            assert_eq!(report.rng_strategy, rng);
        }
    }
}

#[test]
fn unknown_environments_are_a_clear_error() {
    let file = "CartPole-v1.json";
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden_dir().join(file)).unwrap()).unwrap();
    v["env_id"] = serde_json::json!("NoSuchGame-v9");
    match engram_env::golden::replay_value(file, &v, &ReplayOptions::default()) {
        Err(e @ ReplayError::UnknownEnvironment { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("unknown environment"), "{msg}");
        }
        other => panic!("expected an unknown-environment error for {file}, got {other:?}"),
    }
}

#[test]
fn a_tampered_file_reports_the_first_mismatch() {
    let path = golden_dir().join("CartPole-v1.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["rollouts"][1]["steps"][7]["r"] = serde_json::json!(0.5);
    let report =
        engram_env::golden::replay_value("tampered", &v, &ReplayOptions::default()).unwrap();
    assert!(!report.all_matched());
    let m = report.rollouts[1]
        .first_mismatch
        .as_ref()
        .expect("a mismatch");
    assert_eq!((m.step, m.field.as_str()), (Some(7), "r"));
    assert_eq!(report.rollouts[1].steps_compared, 7);
    assert!(report.rollouts[0].first_mismatch.is_none());
    assert!(report.to_string().contains("MISMATCH"));
}

#[test]
fn missing_file_is_an_io_error() {
    let err = replay_file(std::path::Path::new("/nonexistent/golden.json")).unwrap_err();
    assert!(matches!(err, ReplayError::Io { .. }), "{err}");
}

/// The README's step-by-step mode (state set from the previous record before each step).
#[test]
fn acrobot_step_by_step_from_recorded_states() {
    let opts = ReplayOptions {
        resync_state: true,
        ..Default::default()
    };
    let report = replay_file_with(&golden_dir().join("Acrobot-v1.json"), &opts).unwrap();
    assert!(report.resync_state);
    assert!(report.all_matched(), "{report}");
}
