//! PPO and REINFORCE end to end: learning, exact resume, determinism, the command line.

use engram::train::{resume, train};
use engram::RunConfig;

mod common;
use common::{assert_resume_is_exact, bytes, tuned, with};

fn small(algo: &str, policy: &str, steps: u64) -> RunConfig {
    let mut c = with(
        tuned(algo, "CartPole-v1"),
        &[
            &format!("policy={policy}"),
            "hidden_size=16",
            "encoder_layers=[16]",
            &format!("total_steps={steps}"),
            "seed=7",
            // Linear schedules depend on total_steps, which the split run changes.
            "lr_schedule=constant",
            "log_interval=500",
            "checkpoint_interval=1000",
            "eval_interval=1000",
            "eval_episodes=2",
        ],
    );
    match algo {
        "ppo" => {
            c = with(
                c,
                &[
                    "n_envs=4",
                    "t_max=16",
                    "batch_size=32",
                    "n_epochs=3",
                    "clip_range_schedule=constant",
                ],
            )
        }
        "a2c" => c = with(c, &["n_envs=4", "t_max=16"]),
        _ => c = with(c, &["episodes_per_update=4"]),
    }
    c
}

#[test]
fn ppo_train_n_resume_m_equals_train_n_plus_m() {
    for (algo, policy) in [("ppo", "mlp"), ("ppo", "lstm"), ("reinforce", "gru")] {
        let mut c = small(algo, policy, 3000);
        if policy == "mlp" {
            // Exercise the adaptive KL state and value clipping through the checkpoint.
            c = with(c, &["kl_coef=0.5", "kl_adaptive=true", "clip_range_vf=0.2"]);
        }
        assert_resume_is_exact(&c, 1500, &format!("{algo}/{policy}"));
    }
}

#[test]
fn gsde_resume_is_exact() {
    // gSDE's exploration matrices are redrawn inside rollouts (every 3 steps of 16) and at
    // each rollout's start from the collector's stream; observation and reward statistics
    // travel too.
    for algo in ["ppo", "a2c", "reinforce"] {
        let mut c = small(algo, "mlp", 2400);
        c.common.env = "Pendulum-v1".into();
        c = with(
            c,
            &["use_sde=true", "sde_sample_freq=3", "log_std_init=-1.0"],
        );
        if algo != "reinforce" {
            c = with(
                c,
                &["normalize_observations=true", "normalize_rewards=true"],
            );
        }
        c.validate().unwrap();
        // Split between two metrics rows, so the saved metrics window is exercised too.
        assert_resume_is_exact(&c, 1200, &format!("{algo} with gSDE"));
    }
}

#[test]
fn settings_the_spaces_refuse_leave_no_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let c = with(tuned("ppo", "CartPole-v1"), &["use_sde=true"]);
    let err = train(c, Some(&out), true).unwrap_err().to_string();
    assert!(err.contains("use_sde=false"), "{err}");
    assert!(
        !out.exists(),
        "a refused run must not leave a run directory"
    );
}

#[test]
fn short_ppo_gsde_run_beats_random_on_pendulum() {
    // rl-zoo's PPO entry for Pendulum-v1 (gSDE, redrawn every 4 steps). A random policy
    // averages about -1200; seeds 0-4 reached -257 to -331 at this budget.
    let tmp = tempfile::tempdir().unwrap();
    let c = tuned("ppo", "Pendulum-v1");
    assert!(c.ac.use_sde);
    let c = with(c, &["seed=0", "total_steps=50000", "eval_interval=0"]);
    let summary = train(c, Some(tmp.path()), true).unwrap();
    let mean = summary.final_train_mean_return.unwrap();
    assert!(
        mean > -600.0,
        "100-episode training mean {mean:.1} after 50k steps is not clearly above random (~-1200)"
    );
}

#[test]
fn ppo_gsde_solves_mountain_car_continuous_in_rl_zoos_budget() {
    // rl-zoo's recipe (gSDE, VecNormalize, 20k steps) with frequent greedy evaluations: the
    // best checkpoint reached 88.3 on 18 of seeds 0-19 (BENCHMARKS.md §5). These three seeds'
    // untrained policies never reach the goal (about 0 with learning_rate 1e-12, checked by
    // hand), so the test measures learning; two of three must solve it, so that one seed's
    // luck on other hardware cannot fail it.
    let solved = [1u64, 3, 4]
        .iter()
        .filter(|&&seed| {
            let tmp = tempfile::tempdir().unwrap();
            let c = with(
                tuned("ppo", "MountainCarContinuous-v0"),
                &[&format!("seed={seed}")],
            );
            let summary = train(c, Some(tmp.path()), true).unwrap();
            summary.best_eval_mean.is_some_and(|m| m > 80.0)
        })
        .count();
    assert!(
        solved >= 2,
        "only {solved} of 3 seeds solved MountainCarContinuous-v0"
    );
}

#[test]
fn short_ppo_mlp_run_beats_random_on_cartpole() {
    // A uniformly random policy averages about 22 on CartPole-v1.
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("ppo", "CartPole-v1"),
        &[
            "seed=1",
            "total_steps=40000",
            "eval_interval=10000",
            "eval_episodes=5",
        ],
    );
    let summary = train(c, Some(tmp.path()), true).unwrap();
    let mean = summary.final_train_mean_return.unwrap();
    assert!(
        mean > 150.0,
        "100-episode training mean {mean:.1} after 40k steps is not clearly above random (~22)"
    );
}

#[test]
fn short_reinforce_run_beats_random_on_cartpole() {
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("reinforce", "CartPole-v1"),
        &["seed=0", "total_steps=100000", "eval_interval=0"],
    );
    let summary = train(c, Some(tmp.path()), true).unwrap();
    let mean = summary.final_train_mean_return.unwrap();
    assert!(
        mean > 100.0,
        "100-episode training mean {mean:.1} after 100k steps is not clearly above random (~22)"
    );
}

#[test]
fn ppo_runs_continuous_and_recurrent_without_error() {
    for env in ["Pendulum-v1", "CartPoleNoVel-v1"] {
        let tmp = tempfile::tempdir().unwrap();
        let c = with(tuned("ppo", env), &["total_steps=3000", "eval_interval=0"]);
        let s = train(c, Some(tmp.path()), true).unwrap();
        assert!(s.env_steps >= 3000, "{env}");
        assert!(s.episodes > 0, "{env}");
    }
}

#[test]
fn nan_stops_ppo_and_reinforce_and_keeps_the_last_good_checkpoint() {
    for algo in ["ppo", "reinforce"] {
        let tmp = tempfile::tempdir().unwrap();
        train(small(algo, "mlp", 1000), Some(tmp.path()), true).unwrap();
        let good = bytes(tmp.path(), "checkpoints/latest.safetensors");
        let err = resume(
            tmp.path(),
            &["total_steps=20000".into(), "learning_rate=1e30".into()],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("non-finite"), "{algo}: {err}");
        assert!(
            bytes(tmp.path(), "checkpoints/latest.safetensors") == good,
            "{algo}: the good checkpoint was overwritten"
        );
    }
}

#[test]
fn split_runs_equal_whole_runs_exactly_when_schedules_are_constant() {
    // README: "N steps, resume, M more" equals "N + M" with constant schedules (tested above
    // for every algorithm); a linear schedule decays over the total_steps each part was
    // given, so the split run differs, as documented.
    let linear = with(
        small("ppo", "mlp", 3000),
        &["lr_schedule=linear", "clip_range_schedule=linear"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    train(linear.clone(), Some(&whole), true).unwrap();
    train(with(linear, &["total_steps=1500"]), Some(&split), true).unwrap();
    resume(&split, &["total_steps=3000".into()], true).unwrap();
    assert!(
        bytes(&whole, "checkpoints/latest.safetensors")
            != bytes(&split, "checkpoints/latest.safetensors"),
        "a linear schedule over a changed budget cannot give the same run"
    );
}
