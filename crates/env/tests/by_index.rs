//! Stepping by numbers (`StepByIndex`, the tabular methods' path) is `Env::step`: the same
//! states, rewards, ends and random draws, episode after episode.

use engram_env::registry::make_bare;
use engram_env::{Action, Env, Options, Space, StepByIndex};

fn check(id: &str, options: Options) {
    let (mut by_step, _) = make_bare(id, &options, None).unwrap();
    let (mut by_index, _) = make_bare(id, &options, None).unwrap();
    let (n, start) = match by_step.action_space() {
        Space::Discrete { n, start } => (*n as usize, *start),
        other => panic!("{id}: {other:?}"),
    };
    let mut obs = [0.0f32];
    let (mut episodes, mut seed) = (0, 11);
    by_step.reset(Some(seed), &mut obs).unwrap();
    by_index.reset(Some(seed), &mut [0.0]).unwrap();
    let mut draw = 0x9E37_79B9_7F4A_7C15u64;
    for step in 0..20_000 {
        draw = draw.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let a = (draw >> 33) as usize % n;
        let expected = by_step
            .step(Action::Discrete(a as i64 + start), &mut obs)
            .unwrap();
        let got = by_index.by_index().expect("steps by index").step_index(a);
        assert_eq!(got.next as f32, obs[0], "{id} step {step}");
        assert_eq!(
            got.reward.to_bits(),
            expected.reward.to_bits(),
            "{id} step {step}"
        );
        assert_eq!(got.terminated, expected.terminated, "{id} step {step}");
        assert_eq!(by_index.state(), by_step.state(), "{id} step {step}");
        // A few hundred steps per episode at most: the tables have no time limit of their own.
        if expected.terminated || step % 300 == 299 {
            episodes += 1;
            seed += 1;
            by_step.reset(Some(seed), &mut obs).unwrap();
            by_index.reset(Some(seed), &mut [0.0]).unwrap();
            let index = by_index.by_index().expect("steps by index").state_index();
            assert_eq!(index as f32, obs[0], "{id} reset {seed}");
        }
    }
    assert!(episodes > 20, "{id}: {episodes} episodes");
}

#[test]
fn stepping_by_index_is_env_step() {
    check("FrozenLake8x8-v1", Options::new());
    check("FrozenLake-v1", Options::new().with("is_slippery", false));
    check("CliffWalking-v1", Options::new());
    check("CliffWalkingSlippery-v1", Options::new());
    check("Taxi-v3", Options::new());
    check(
        "Taxi-v3",
        Options::new()
            .with("is_rainy", true)
            .with("fickle_passenger", true)
            .with("fickle_probability", 0.9),
    );
    check("GridWorld4x4-v0", Options::new());
    check(
        "WindyGridworld-v0",
        Options::new().with("stochastic_wind", true),
    );
    check("GamblersProblem-v0", Options::new());
}

#[test]
fn other_environments_do_not_step_by_index() {
    let (mut cartpole, _) = make_bare("CartPole-v1", &Options::new(), None).unwrap();
    assert!(cartpole.by_index().is_none());
}
