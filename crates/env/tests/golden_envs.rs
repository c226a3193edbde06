//! Behaviour of the built-in environments outside the golden files: bad input, options,
//! rendering, and Gymnasium's first observation from `reset(seed)`.

use engram_env::classic_control::{
    Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum,
};
use engram_env::toy_text::{
    Blackjack, CliffWalking, FrozenLake, FrozenLakeConfig, Taxi, TaxiConfig,
};
use engram_env::{Action, Env, EnvError, Options, Render, RenderMode};

fn all_envs() -> Vec<Box<dyn Env>> {
    vec![
        Box::new(CartPole::default()),
        Box::new(Acrobot::default()),
        Box::new(MountainCar::default()),
        Box::new(MountainCarContinuous::default()),
        Box::new(Pendulum::default()),
        Box::new(FrozenLake::new(FrozenLakeConfig::default()).unwrap()),
        Box::new(CliffWalking::default()),
        Box::new(Taxi::default()),
        Box::new(Blackjack::default()),
    ]
}

#[test]
fn step_before_reset_is_an_error() {
    for mut env in all_envs() {
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        let action = if env.action_space().is_discrete() {
            Action::Discrete(0)
        } else {
            Action::Continuous(&[0.0])
        };
        assert_eq!(env.step(action, &mut obs), Err(EnvError::NotReset));
    }
}

#[test]
fn actions_outside_the_space_are_rejected() {
    for mut env in all_envs() {
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        env.reset(Some(0), &mut obs).unwrap();
        let bad = [
            Action::Discrete(-1),
            Action::Discrete(99),
            Action::Continuous(&[0.0, 0.0]),
            Action::Continuous(&[f32::NAN]),
        ];
        for a in bad {
            match env.step(a, &mut obs) {
                Err(EnvError::InvalidAction { space, .. }) => {
                    assert_eq!(space, env.action_space().describe())
                }
                other => panic!(
                    "{a:?} in {}: expected InvalidAction, got {other:?}",
                    env.action_space()
                ),
            }
        }
    }
}

#[test]
fn stepping_after_termination_needs_reset() {
    let mut env = CartPole::default();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs).unwrap();
    let mut steps = 0;
    loop {
        steps += 1;
        if env.step(Action::Discrete(1), &mut obs).unwrap().terminated {
            break;
        }
        assert!(steps < 500, "always pushing right must topple the pole");
    }
    assert_eq!(
        env.step(Action::Discrete(1), &mut obs),
        Err(EnvError::NeedsReset)
    );
    env.reset(None, &mut obs).unwrap();
    assert!(env.step(Action::Discrete(1), &mut obs).is_ok());
}

#[test]
fn wrong_observation_buffer_is_an_error_not_a_panic() {
    let mut env = CartPole::default();
    let mut obs = [0.0f32; 3];
    assert!(
        matches!(env.reset(Some(0), &mut obs), Err(EnvError::Other(m)) if m.contains("needs 4"))
    );
}

#[test]
fn cartpole_reset_is_gymnasiums_first_observation() {
    // gym.make("CartPole-v1").reset(seed=0)[0], also in the golden file.
    let mut env = CartPole::default();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs).unwrap();
    assert_eq!(
        obs,
        [
            0.013696168732145436f64,
            -0.02302132862361297,
            -0.045902647606380534,
            -0.04834723644714709
        ]
        .map(|x| x as f32)
    );
}

fn opts(pairs: &[(&str, serde_json::Value)]) -> Options {
    let mut o = Options::default();
    for (k, v) in pairs {
        o.values.insert(k.to_string(), v.clone());
    }
    o
}

#[test]
fn frozen_lake_custom_maps_are_validated() {
    use serde_json::json;
    let cases = [
        (json!(["SF", "FGF"]), "rectangular"),
        (json!(["SX", "FG"]), "contains 'X'"),
        (json!(["FF", "FG"]), "'S'"),
        (json!(["SF", "FF"]), "'G'"),
        (json!([]), "non-empty"),
    ];
    for (desc, needle) in cases {
        let mut o = opts(&[("desc", desc.clone())]);
        match FrozenLake::make(&mut o) {
            Err(EnvError::BadOption { message, .. }) => {
                assert!(message.contains(needle), "{desc}: {message}")
            }
            Err(e) => panic!("{desc}: wrong error {e}"),
            Ok(_) => panic!("{desc}: accepted"),
        }
    }
    let mut o = opts(&[("map_name", json!("5x5"))]);
    assert!(
        matches!(FrozenLake::make(&mut o), Err(EnvError::BadOption { message, .. }) if message.contains("4x4"))
    );
    let mut o = opts(&[("is_slippery", json!("yes"))]);
    assert!(
        matches!(FrozenLake::make(&mut o), Err(EnvError::BadOption { message, .. }) if message.contains("is_slippery"))
    );
}

#[test]
fn frozen_lake_custom_map_plays() {
    use serde_json::json;
    let mut o = opts(&[
        ("desc", json!(["SFG"])),
        ("is_slippery", json!(false)),
        ("unknown_key", json!(1)),
    ]);
    let mut env = FrozenLake::make(&mut o).unwrap();
    // Unknown options are left for the registry to report.
    assert_eq!(o.values.keys().collect::<Vec<_>>(), ["unknown_key"]);
    let mut obs = [0.0f32];
    env.reset(Some(3), &mut obs).unwrap();
    assert_eq!(obs[0], 0.0);
    let s = env.step(Action::Discrete(2), &mut obs).unwrap();
    assert_eq!((obs[0], s.reward, s.terminated), (1.0, 0.0, false));
    let s = env.step(Action::Discrete(2), &mut obs).unwrap();
    assert_eq!((obs[0], s.reward, s.terminated), (2.0, 1.0, true));
    assert_eq!(env.observation_space().describe(), "Discrete(3)");
}

#[test]
fn toy_text_renders_gymnasium_ansi() {
    let mut env = FrozenLake::new(FrozenLakeConfig::default()).unwrap();
    let mut obs = [0.0f32];
    env.reset(Some(0), &mut obs).unwrap();
    let Render::Text(t) = env.render(RenderMode::Text).unwrap() else {
        panic!()
    };
    assert_eq!(t, "\n\x1b[41mS\x1b[0mFFF\nFHFH\nFFFH\nHFFG\n");

    let mut env = CliffWalking::default();
    env.reset(Some(0), &mut obs).unwrap();
    let Render::Text(t) = env.render(RenderMode::Text).unwrap() else {
        panic!()
    };
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "o  o  o  o  o  o  o  o  o  o  o  o");
    assert_eq!(lines[3], "x  C  C  C  C  C  C  C  C  C  C  T");

    let mut env = Taxi::default();
    env.reset(Some(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    let Render::Text(t) = env.render(RenderMode::Text).unwrap() else {
        panic!()
    };
    assert!(t.starts_with("+---------+\n"), "{t}");
    assert!(t.ends_with("  (South)\n"), "{t}");
    assert!(t.contains("\x1b[43m"), "the taxi is highlighted: {t}");
}

#[test]
fn classic_control_renders_rgb_frames() {
    let mut envs: Vec<Box<dyn Env>> = vec![
        Box::new(CartPole::default()),
        Box::new(Acrobot::default()),
        Box::new(MountainCar::default()),
        Box::new(MountainCarContinuous::default()),
        Box::new(Pendulum::default()),
    ];
    for env in envs.iter_mut() {
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        env.reset(Some(0), &mut obs).unwrap();
        let Render::Rgb {
            width,
            height,
            pixels,
        } = env.render(RenderMode::Rgb).unwrap()
        else {
            panic!()
        };
        assert_eq!(pixels.len(), width * height * 3);
        let drawn = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(drawn > 300, "the scene is drawn");
        assert!(drawn < width * height / 2, "mostly background");
        assert!(matches!(
            env.render(RenderMode::Text),
            Err(EnvError::Unsupported(_))
        ));
    }
    // CartPole at Gymnasium's geometry: the cart (black) is centred at x=300, rows 285..315.
    let mut env = CartPole::default();
    env.set_state(&[0.0; 4]).unwrap();
    let Render::Rgb { width, pixels, .. } = env.render(RenderMode::Rgb).unwrap() else {
        panic!()
    };
    let px = |x: usize, y: usize| &pixels[(y * width + x) * 3..(y * width + x) * 3 + 3];
    assert_eq!(px(280, 310), [0, 0, 0]);
    assert_eq!(
        px(300, 250),
        [202, 152, 101],
        "the pole stands up from the cart"
    );
    assert_eq!(px(100, 250), [255, 255, 255]);
}

#[test]
fn taxi_exposes_info_and_action_mask() {
    let mut env = Taxi::new(TaxiConfig::default()).unwrap();
    let mut obs = [0.0f32];
    env.reset(Some(0), &mut obs).unwrap();
    assert_eq!(obs[0], 314.0);
    assert_eq!(
        env.action_mask().unwrap(),
        &[true, true, false, false, false, false]
    );
    let info = env.info();
    assert_eq!(
        info[1].1,
        engram_env::InfoValue::Ints(vec![1, 1, 0, 0, 0, 0])
    );
}

#[test]
fn blackjack_natural_and_sab_options() {
    use serde_json::json;
    let mut o = opts(&[("natural", json!(true)), ("sab", json!(false))]);
    let env = Blackjack::make(&mut o).unwrap();
    assert!(o.values.is_empty());
    assert_eq!(
        env.observation_space().describe(),
        "Tuple(Discrete(32), Discrete(11), Discrete(2))"
    );
}

#[test]
fn state_round_trips() {
    let mut env = Pendulum::default();
    env.set_state(&[0.5, -1.0]).unwrap();
    assert_eq!(env.state().unwrap(), vec![0.5, -1.0]);
    assert!(env.set_state(&[1.0]).is_err());
    let mut env = MountainCarContinuous::default();
    let mut obs = [0.0f32; 2];
    env.reset(Some(1), &mut obs).unwrap();
    let s = env.state().unwrap();
    env.step(Action::Continuous(&[0.5]), &mut obs).unwrap();
    let after = env.state().unwrap();
    env.set_state(&s).unwrap();
    env.step(Action::Continuous(&[0.5]), &mut obs).unwrap();
    assert_eq!(env.state().unwrap(), after);
}
