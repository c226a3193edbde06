//! The registry with the built-in CartPole-v1: the partial-observability ids built on it, the
//! vector env over it, and errors naming built-in ids.

use engram_env::registry::{make, spec, Options};
use engram_env::{Action, AutoresetMode, EnvError, SyncVectorEnv, VectorEnv};

/// Steps `id` and CartPole-v1 side by side with the same seed and actions until the first
/// episode ends; returns (variant observation, CartPole observation) pairs.
fn side_by_side(id: &str, options: &Options, seed: u64) -> Vec<([f32; 4], [f32; 4])> {
    let mut variant = make(id, options).unwrap();
    let mut plain = make("CartPole-v1", &Options::new()).unwrap();
    let (mut a, mut b) = ([0.0f32; 4], [0.0f32; 4]);
    variant.reset(Some(seed), &mut a).unwrap();
    plain.reset(Some(seed), &mut b).unwrap();
    let mut pairs = vec![(a, b)];
    for t in 0..600 {
        let action = Action::Discrete((t / 3) % 2);
        let s1 = variant.step(action, &mut a).unwrap();
        let s2 = plain.step(action, &mut b).unwrap();
        assert_eq!(s1, s2, "same dynamics, rewards and flags");
        pairs.push((a, b));
        if s1.done() {
            return pairs;
        }
    }
    panic!("CartPole with alternating pushes should fall within 600 steps");
}

#[test]
fn cartpole_no_velocity_masks_x_dot_and_theta_dot() {
    let pairs = side_by_side("CartPoleNoVel-v1", &Options::new(), 3);
    assert!(pairs.len() > 5);
    for (masked, full) in pairs {
        assert_eq!(masked, [full[0], 0.0, full[2], 0.0]);
        assert!(full[1] != 0.0 || full[3] != 0.0);
    }
    let s = spec("CartPoleNoVel-v1").unwrap();
    assert_eq!(
        (s.max_episode_steps, s.reward_threshold),
        (Some(500), Some(475.0))
    );
    // Options pass through to CartPole-v1.
    let options = Options::new().with("sutton_barto_reward", true);
    assert!(make("CartPoleNoVel-v1", &options).is_ok());
}

#[test]
fn cartpole_flicker_blanks_whole_observations_reproducibly() {
    let run = |seed| side_by_side("CartPoleFlicker-v1", &Options::new(), seed);
    let pairs = run(5);
    let mut blank = 0;
    for (seen, full) in &pairs {
        if *seen == [0.0; 4] {
            blank += 1;
        } else {
            assert_eq!(seen, full);
        }
    }
    assert!(
        blank > 0 && blank < pairs.len(),
        "p = 0.5 over {} steps",
        pairs.len()
    );
    assert_eq!(pairs, run(5), "deterministic given the seed");

    let never = side_by_side("CartPoleFlicker-v1", &Options::new().with("p", 0.0), 5);
    assert!(never.iter().all(|(seen, full)| seen == full));
    let always = side_by_side("CartPoleFlicker-v1", &Options::new().with("p", 1.0), 5);
    assert!(always.iter().all(|(seen, _)| *seen == [0.0; 4]));

    let err = make("CartPoleFlicker-v1", &Options::new().with("p", 2.0))
        .err()
        .unwrap();
    assert!(matches!(err, EnvError::BadOption { .. }));
    assert!(err.to_string().contains("must be in [0, 1]"), "{err}");
}

#[test]
fn built_in_ids_are_suggested() {
    let err = make("CartPole-v0", &Options::new()).err().unwrap();
    assert!(err.to_string().contains("`CartPole-v1`"), "{err}");
    let err = make("frozenlake-v1", &Options::new()).err().unwrap();
    assert!(err.to_string().contains("`FrozenLake-v1`"), "{err}");
    let err = make("Taxi", &Options::new()).err().unwrap();
    assert!(err.to_string().contains("`Taxi-v3`"), "{err}");
}

#[test]
fn made_cartpole_truncates_at_500_and_errors_after() {
    let mut env = make("CartPole-v1", &Options::new()).unwrap();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs).unwrap();
    // Keep the pole up: push toward the side it leans to.
    let mut steps = 0;
    loop {
        let action = Action::Discrete(i64::from(obs[2] + 0.5 * obs[3] > 0.0));
        let s = env.step(action, &mut obs).unwrap();
        steps += 1;
        if s.done() {
            assert!(s.truncated && !s.terminated, "balanced until the limit");
            break;
        }
    }
    assert_eq!(steps, 500);
    assert_eq!(
        env.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NeedsReset)
    );
    let mut fresh = make("CartPole-v1", &Options::new()).unwrap();
    assert_eq!(
        fresh.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NotReset)
    );
    fresh.reset(None, &mut obs).unwrap();
    let err = fresh.step(Action::Discrete(2), &mut obs).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }), "{err}");
}

#[test]
fn vector_cartpole_matches_single_cartpoles() {
    let mut venv =
        SyncVectorEnv::make("CartPole-v1", &Options::new(), 4, AutoresetMode::SameStep).unwrap();
    venv.reset(Some(10)).unwrap();
    let mut singles: Vec<_> = (0..4)
        .map(|_| make("CartPole-v1", &Options::new()).unwrap())
        .collect();
    let mut obs = [[0.0f32; 4]; 4];
    for (i, env) in singles.iter_mut().enumerate() {
        env.reset(Some(10 + i as u64), &mut obs[i]).unwrap();
        assert_eq!(&venv.observations()[i * 4..i * 4 + 4], &obs[i]);
    }
    let mut resets = 0;
    for t in 0..300usize {
        let actions: Vec<f32> = (0..4).map(|i| ((t * 7 + i * 3) / 5 % 2) as f32).collect();
        venv.step(&actions).unwrap();
        for (i, env) in singles.iter_mut().enumerate() {
            let s = env
                .step(Action::Discrete(actions[i] as i64), &mut obs[i])
                .unwrap();
            assert_eq!(venv.rewards()[i], s.reward);
            assert_eq!(venv.terminated()[i], s.terminated);
            if s.done() {
                assert_eq!(&venv.final_observations()[i * 4..i * 4 + 4], &obs[i]);
                env.reset(None, &mut obs[i]).unwrap();
                resets += 1;
            }
            assert_eq!(
                &venv.observations()[i * 4..i * 4 + 4],
                &obs[i],
                "t {t} env {i}"
            );
        }
    }
    assert!(resets > 10);
}

#[test]
fn bench_helpers_measure_cartpole() {
    let single = engram_env::bench::cartpole_steps_per_second(1, 0.05).unwrap();
    let vec8 = engram_env::bench::cartpole_steps_per_second(8, 0.05).unwrap();
    // Far below the real figures (tens of millions in release builds): a smoke test.
    assert!(single > 1e5 && vec8 > 1e5, "{single} {vec8}");
    assert!(engram_env::bench::cartpole_steps_per_second(0, 0.01).is_err());
}
