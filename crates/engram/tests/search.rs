//! Policy search end to end (CEM, ES, CMA-ES) and TRPO: learning, exact resume, results
//! independent of the worker count, bad input.

use engram::runtime::Checkpoint;
use engram::train::train;
use engram::RunConfig;

mod common;
use common::{assert_resume_is_exact, bytes, tuned, with};

fn small(algo: &str, policy: &str, steps: u64) -> RunConfig {
    let mut c = with(
        tuned(algo, "CartPole-v1"),
        &[
            &format!("policy={policy}"),
            "hidden_size=4",
            "encoder_layers=[4]",
            &format!("total_steps={steps}"),
            "seed=3",
            "log_interval=500",
            "checkpoint_interval=1000",
            "eval_interval=1000",
            "eval_episodes=2",
            "workers=2",
        ],
    );
    if algo != "cmaes" {
        c = with(c, &["population=8"]);
    }
    c
}

#[test]
fn policy_search_resume_is_exact() {
    for (algo, policy) in [
        ("cem", "mlp"),
        ("cem", "lstm"),
        ("es", "mlp"),
        ("es", "lstm"),
        ("cmaes", "mlp"),
        ("cmaes", "gru"),
    ] {
        let mut c = small(algo, policy, 6000);
        if algo == "cem" {
            // Observation statistics and the fading noise go through the checkpoint too.
            c = with(c, &["normalize_observations=true", "extra_noise=0.1"]);
        }
        assert_resume_is_exact(&c, 2500, &format!("{algo}/{policy}"));
    }
}

#[test]
fn trpo_resume_is_exact() {
    // Pendulum's tuned entry is rl-zoo's, with gSDE; the second Pendulum case is the
    // state-independent Gaussian.
    for (env, policy, use_sde) in [
        ("CartPole-v1", "mlp", false),
        ("Pendulum-v1", "mlp", true),
        ("Pendulum-v1", "mlp", false),
        ("CartPole-v1", "gru", false),
    ] {
        let c = with(
            tuned("trpo", env),
            &[
                &format!("policy={policy}"),
                &format!("use_sde={use_sde}"),
                "hidden_size=4",
                "encoder_layers=[4]",
                "total_steps=640",
                "seed=2",
                "n_envs=2",
                "t_max=32",
                "batch_size=16",
                "n_critic_updates=2",
                "log_interval=64",
                "checkpoint_interval=128",
                "eval_interval=128",
                "eval_episodes=1",
            ],
        );
        assert_resume_is_exact(&c, 320, &format!("trpo {env}/{policy} use_sde={use_sde}"));
    }
}

#[test]
fn results_do_not_depend_on_the_worker_count() {
    for algo in ["es", "cmaes"] {
        let tmp = tempfile::tempdir().unwrap();
        let runs: Vec<_> = ["workers=1", "workers=3"]
            .iter()
            .map(|w| {
                let dir = tmp.path().join(w);
                train(with(small(algo, "mlp", 3000), &[w]), Some(&dir), true).unwrap();
                let path = dir.join("checkpoints/latest.safetensors");
                let checkpoint = Checkpoint::load(&path).unwrap();
                // The metadata names the worker count and wall times; the search state
                // (distribution, RNG, observation statistics) must not differ.
                let search_state = checkpoint.meta.state["collectors"].clone();
                (
                    checkpoint.tensors,
                    search_state,
                    bytes(&dir, "episodes.csv"),
                )
            })
            .collect();
        assert!(runs[0] == runs[1], "{algo}: 1 and 3 workers differ");
    }
}

#[test]
fn cem_solves_cartpole_on_a_small_seeded_budget() {
    // The greedy mean policy scores 500 on 10 evaluation episodes within 40k steps (seeds
    // 0-4 take 15-31k, BENCHMARKS.md); the initial policy scores about 9.
    let tmp = tempfile::tempdir().unwrap();
    let c = with(
        tuned("cem", "CartPole-v1"),
        &[
            "seed=0",
            "total_steps=40000",
            "eval_interval=5000",
            "eval_episodes=10",
        ],
    );
    let summary = train(c, Some(tmp.path()), true).unwrap();
    let best = summary.best_eval_mean.unwrap();
    assert!(
        best >= 500.0,
        "CEM's best greedy evaluation after 40k steps is {best:.1}, not 500"
    );
}

#[test]
fn bad_policy_search_options_are_refused_with_the_key() {
    let check = |algo: &str, set: &str, key: &str, says: &str| {
        let mut c = tuned(algo, "CartPole-v1");
        c.set(set).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains(&format!("`{key}`")) && err.contains(says),
            "{set}: {err}"
        );
    };
    check("cem", "population=1", "population", "at least 2");
    check("es", "population=1", "population", "at least 2");
    check("cmaes", "population=1", "population", "at least 2");
    check("cem", "elite_frac=0", "elite_frac", "(0, 1)");
    check("cem", "elite_frac=1", "elite_frac", "(0, 1)");
    check("cem", "sigma=0", "sigma", "positive");
    check("es", "sigma=-0.1", "sigma", "positive");
    check("cmaes", "sigma=0", "sigma", "positive");
    check("es", "population=7", "population", "even");
    check("trpo", "cg_damping=-0.1", "cg_damping", "zero or positive");
    check("trpo", "target_kl=0", "target_kl", "positive");
    check(
        "trpo",
        "line_search_shrinking_factor=1",
        "line_search_shrinking_factor",
        "(0, 1)",
    );
    let mut c = tuned("cem", "CartPole-v1");
    let err = c.set("learning_rate=0.1").unwrap_err().to_string();
    assert!(err.contains("gradient-free"), "{err}");
    let mut c = tuned("cmaes", "Pendulum-v1");
    c.set("use_sde=true").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = train(c, Some(&tmp.path().join("run")), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("use_sde"), "{err}");
}
