//! The DQN family end to end: learning on CartPole (and not without learning), exact resume
//! with the saved replay buffer, resume that refills without it, every combination of the
//! improvements, and bad input refused with the key named.

use engram::train::{resume, train};
use engram::RunConfig;

mod common;
use common::{assert_resume_is_exact, bytes, tuned, with};

/// rl-zoo's CartPole entry with a 64x64 network and a shorter budget (about 2 s).
fn cartpole(seed: u64, steps: u64) -> RunConfig {
    with(
        tuned("dqn", "CartPole-v1"),
        &[
            "encoder_layers=[64, 64]",
            &format!("seed={seed}"),
            &format!("total_steps={steps}"),
            "eval_interval=0",
        ],
    )
}

#[test]
fn short_dqn_run_learns_cartpole_and_not_without_learning() {
    // A uniformly random policy averages about 22, this untrained greedy one about 10; seeds
    // 0-2 reached 132-162 (100-episode training mean, exploration included) in 30k steps.
    let tmp = tempfile::tempdir().unwrap();
    let s = train(cartpole(0, 30_000), Some(&tmp.path().join("a")), true).unwrap();
    let mean = s.final_train_mean_return.unwrap();
    assert!(mean > 80.0, "training mean {mean:.1} after 30k steps");
    let frozen = with(cartpole(0, 30_000), &["learning_rate=1e-12"]);
    let s = train(frozen, Some(&tmp.path().join("b")), true).unwrap();
    let mean = s.final_train_mean_return.unwrap();
    assert!(mean < 40.0, "without learning the mean is {mean:.1}");
}

#[test]
fn resume_with_the_saved_buffer_is_exact_for_every_combination() {
    for extras in [
        &[][..],
        &["double_q=true", "dueling=true"],
        // beta anneals over total_steps, which the split run changes: keep it at 1.
        &["prioritized=true", "per_beta0=1.0", "n_step=3"],
        &[
            "double_q=true",
            "dueling=true",
            "prioritized=true",
            "per_beta0=1.0",
            "n_step=2",
            "tau=0.5",
        ],
    ] {
        let mut settings = vec![
            "save_replay_buffer=true",
            "learning_starts=500",
            "train_freq=16",
            "gradient_steps=4",
            "target_update_interval=100",
            "log_interval=700",
            "checkpoint_interval=1000",
            "eval_interval=1500",
            "eval_episodes=2",
        ];
        settings.extend_from_slice(extras);
        // Exploration ends (at 16% of the budget) before learning_starts: the schedule's
        // dependence on total_steps does not show.
        let c = with(cartpole(3, 3000), &settings);
        assert_resume_is_exact(&c, 1504, &format!("dqn {extras:?}"));
    }
}

#[test]
fn resume_without_the_buffer_refills_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        cartpole(1, 2000),
        &[
            "learning_starts=300",
            "train_freq=8",
            "gradient_steps=2",
            "log_interval=1000",
        ],
    );
    let first = train(c, Some(tmp.path()), true).unwrap();
    let size = bytes(tmp.path(), "checkpoints/latest.safetensors").len();
    assert!(size < 400_000, "no buffer in the checkpoint: {size} bytes");
    let second = resume(tmp.path(), &["total_steps=4000".into()], true).unwrap();
    assert!(second.env_steps >= 4000 && second.env_steps > first.env_steps);
    assert!(second.episodes > first.episodes);
    let metrics = std::fs::read_to_string(tmp.path().join("metrics.csv")).unwrap();
    assert!(metrics.lines().next().unwrap().contains("exploration_rate"));
}

#[test]
fn bad_dqn_settings_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let err = train(
        tuned("dqn", "Pendulum-v1"),
        Some(&tmp.path().join("p")),
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("Discrete actions") && err.contains("use ppo, a2c or a3c"),
        "{err}"
    );
    assert!(
        !tmp.path().join("p").exists(),
        "no run directory for a refused run"
    );
    for (set, key) in [
        ("batch_size=200000", "batch_size"),
        ("n_step=0", "n_step"),
        ("tau=0", "tau"),
        ("tau=1.5", "tau"),
        ("gradient_steps=-2", "gradient_steps"),
        ("train_freq=0", "train_freq"),
        ("exploration_fraction=0", "exploration_fraction"),
        ("buffer_size=0", "buffer_size"),
    ] {
        let mut c = tuned("dqn", "CartPole-v1");
        c.set(set).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{set}: {err}");
    }
    let mut c = tuned("dqn", "CartPole-v1");
    let err = c.set("learning_starts=-1").unwrap_err().to_string();
    assert!(err.contains("learning_starts"), "{err}");
    let err = c.set("clip_range=0.1").unwrap_err().to_string();
    assert!(err.contains("option of ppo"), "{err}");
    let err = c.set("use_sde=true").unwrap_err().to_string();
    assert!(err.contains("this run uses dqn"), "{err}");
    let err = with(c, &["policy=lstm"]).validate().err();
    assert!(
        err.is_none(),
        "the policy is checked against the network when the run starts"
    );
    let err = train(
        with(tuned("dqn", "CartPole-v1"), &["policy=lstm"]),
        Some(&tmp.path().join("l")),
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("policy = mlp"), "{err}");
}
