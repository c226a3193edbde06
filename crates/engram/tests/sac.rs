//! SAC, discrete SAC, TD3 and DDPG end to end: short Pendulum runs that learn (and do not
//! without learning), TD3's policy delay counted in the optimizers' steps, exact resume with
//! the saved replay buffer, and bad input refused with the fix named.

use engram::runtime::Checkpoint;
use engram::train::train;
use engram::RunConfig;

mod common;
use common::{assert_resume_is_exact, tuned, with};

/// `algo`'s Pendulum entry, smaller and shorter, evaluated greedily once at the end.
fn pendulum(algo: &str, seed: u64, steps: u64, extra: &[&str]) -> RunConfig {
    let mut settings = vec![
        "encoder_layers=[64, 64]".to_string(),
        "batch_size=64".to_string(),
        format!("seed={seed}"),
        format!("total_steps={steps}"),
        format!("eval_interval={steps}"),
        "eval_episodes=4".to_string(),
    ];
    settings.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = settings.iter().map(String::as_str).collect();
    with(tuned(algo, "Pendulum-v1"), &refs)
}

fn greedy_mean(c: RunConfig) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let s = train(c, Some(tmp.path()), true).unwrap();
    s.best_eval_mean.unwrap()
}

#[test]
fn short_pendulum_runs_learn_and_not_without_learning() {
    // A uniformly random policy scores about -1200 on Pendulum, an untrained greedy one
    // -1100 to -1600. SAC scored better than -700 after 4k steps; TD3 (learning from 1k
    // steps) reached -400 to 0 per episode from about 6.5k steps on (seed 0).
    let mean = greedy_mean(pendulum("sac", 0, 4000, &[]));
    assert!(mean > -700.0, "sac: greedy mean {mean:.0} after 4k steps");
    let frozen = greedy_mean(pendulum("sac", 0, 4000, &["learning_rate=1e-12"]));
    assert!(frozen < -900.0, "sac without learning: {frozen:.0}");
    let mean = greedy_mean(pendulum("td3", 0, 8000, &["learning_starts=1000"]));
    assert!(mean > -600.0, "td3: greedy mean {mean:.0} after 8k steps");
}

/// The optimizer step counts `(actor, critic)` of a run's final checkpoint.
fn optimizer_steps(dir: &std::path::Path) -> (u64, u64) {
    let ckpt = Checkpoint::load(&dir.join("checkpoints/latest.safetensors")).unwrap();
    let optimizers = ckpt.meta.state["optimizers"].as_array().unwrap().clone();
    let step = |prefix: &str| {
        optimizers
            .iter()
            .find(|o| o[0] == prefix)
            .and_then(|o| o[2].as_u64())
            .unwrap()
    };
    (step("optim.actor"), step("optim.critic"))
}

#[test]
fn td3_updates_the_actor_every_policy_delay_steps_and_ddpg_every_step() {
    // learning_starts 100 of 300 steps, one gradient step per step after it: 200 critic updates.
    for (algo, delay, actor_steps) in [("td3", 2, 100), ("td3", 3, 66), ("ddpg", 1, 200)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut settings = vec!["learning_starts=100"];
        let delay_setting = format!("policy_delay={delay}");
        if algo == "td3" {
            settings.push(&delay_setting);
        }
        let c = pendulum(algo, 1, 300, &settings);
        train(c, Some(tmp.path()), true).unwrap();
        assert_eq!(
            optimizer_steps(tmp.path()),
            (actor_steps, 200),
            "{algo} policy_delay={delay}"
        );
    }
}

#[test]
fn resume_with_the_saved_buffer_is_exact() {
    let settings = [
        "save_replay_buffer=true",
        "learning_starts=200",
        "train_freq=4",
        "gradient_steps=2",
        "log_interval=300",
        "checkpoint_interval=400",
        "eval_interval=700",
        "eval_episodes=1",
        "encoder_layers=[16]",
        "batch_size=16",
        "seed=4",
        "total_steps=1000",
    ];
    for (algo, env, extra) in [
        ("sac", "Pendulum-v1", &[][..]),
        ("sac", "CartPole-v1", &[][..]),
        (
            "sac",
            "Pendulum-v1",
            &["use_sde=true", "sde_sample_freq=3", "use_expln=true"][..],
        ),
        ("td3", "Pendulum-v1", &["action_noise=\"normal\""][..]),
        (
            "ddpg",
            "Pendulum-v1",
            &["action_noise=\"ornstein-uhlenbeck\"", "noise_std=0.3"][..],
        ),
    ] {
        let mut c = with(tuned(algo, env), &settings);
        c = with(c, extra);
        assert_resume_is_exact(&c, 604, &format!("{algo} on {env} {extra:?}"));
    }
}

#[test]
fn bad_settings_and_spaces_are_refused_naming_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let refused = |algo: &str, env: &str| {
        let c = with(tuned(algo, env), &["total_steps=100"]);
        train(c, Some(&tmp.path().join(format!("{algo}-{env}"))), true)
            .unwrap_err()
            .to_string()
    };
    for algo in ["sac", "td3", "ddpg"] {
        let err = refused(algo, "popgym-BattleshipEasy-v0");
        assert!(err.contains("use ppo"), "{algo}: {err}");
    }
    let err = refused("td3", "CartPole-v1");
    assert!(
        err.contains("Box action space") && err.contains("sac (discrete SAC)"),
        "{err}"
    );
    let err = refused("ddpg", "CartPole-v1");
    assert!(err.contains("dqn"), "{err}");
    let c = with(
        tuned("sac", "CartPole-v1"),
        &["use_sde=true", "total_steps=100"],
    );
    let err = train(c, Some(&tmp.path().join("sde")), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("use_sde=false"), "{err}");
    for (algo, set, key) in [
        ("sac", "tau=0", "tau"),
        ("td3", "tau=0", "tau"),
        ("ddpg", "tau=0", "tau"),
        ("td3", "noise_std=-0.1", "noise_std"),
        ("ddpg", "noise_std=-1", "noise_std"),
        ("td3", "target_policy_noise=-0.2", "target_policy_noise"),
        ("td3", "policy_delay=0", "policy_delay"),
        ("sac", "ent_coef=\"autox\"", "ent_coef"),
        ("sac", "ent_coef=-1", "ent_coef"),
        ("sac", "target_update_interval=0", "target_update_interval"),
        ("sac", "n_critics=0", "n_critics"),
        ("sac", "batch_size=0", "batch_size"),
        ("sac", "noise_std=-0.5", "noise_std"),
        ("sac", "sde_sample_freq=0", "sde_sample_freq"),
        ("sac", "log_std_init=40", "log_std_init"),
    ] {
        let mut c = tuned(algo, "Pendulum-v1");
        c.set(set).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{algo} {set}: {err}");
    }
    let mut c = tuned("ddpg", "Pendulum-v1");
    let err = c.set("policy_delay=2").unwrap_err().to_string();
    assert!(err.contains("option of td3"), "{err}");
    let err = c.set("action_noise=\"gaussian\"").unwrap_err().to_string();
    assert!(err.contains("ornstein-uhlenbeck"), "{err}");
    let c = with(
        tuned("sac", "Pendulum-v1"),
        &["policy=lstm", "total_steps=100"],
    );
    let err = train(c, Some(&tmp.path().join("lstm")), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("policy = mlp"), "{err}");
}
