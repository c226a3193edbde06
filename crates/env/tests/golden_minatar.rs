//! Parity with MinAtar 1.0.15: all ten golden files (`MinAtar_<Game>-v0/-v1.json`) replay bit
//! for bit from the seeds alone (engram's MT19937 port of numpy's legacy `RandomState`, every
//! draw checked against the recording), and again with the recorded draws injected.

mod golden_common;

use engram_env::golden::{replay_file_with, ReplayOptions, RngStrategy};
use engram_env::minatar::Mt19937;
use engram_env::{make, Action, Env, Options, RenderMode};
use golden_common::golden_dir;
use serde_json::Value;

const GAMES: [&str; 5] = [
    "Asterix",
    "Breakout",
    "Freeway",
    "Seaquest",
    "SpaceInvaders",
];

fn replay(game: &str, rng: RngStrategy) {
    for version in ["v0", "v1"] {
        let path = golden_dir().join(format!("MinAtar_{game}-{version}.json"));
        let opts = ReplayOptions {
            rng,
            ..Default::default()
        };
        let report = replay_file_with(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.all_matched(), "{report}");
        assert_eq!(report.rng_strategy, rng, "{report}");
        assert_eq!(report.rollouts.len(), 3);
        for r in &report.rollouts {
            assert_eq!(r.steps_compared, 500, "{report}");
        }
    }
}

macro_rules! golden {
    ($($name:ident => $game:expr,)*) => { $( #[test] fn $name() {
        replay($game, RngStrategy::Pcg64);
        replay($game, RngStrategy::Inject);
    } )* };
}

golden! {
    asterix => "Asterix",
    breakout => "Breakout",
    freeway => "Freeway",
    seaquest => "Seaquest",
    space_invaders => "SpaceInvaders",
}

#[test]
fn mt19937_matches_numpy_random_state_vectors() {
    let path = golden_dir().join("rng_vectors.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = v["mt19937_randomstate"]
        .as_array()
        .expect("mt19937 vectors");
    assert!(cases.len() >= 3);
    let list = |c: &Value, key: &str| -> Vec<Value> { c[key].as_array().unwrap().clone() };
    for case in cases {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let mut mt = Mt19937::new(seed);
        for x in list(case, "random_raw_u32_x8") {
            assert_eq!(
                mt.next_u32() as u64,
                x.as_u64().unwrap(),
                "seed {seed}: raw"
            );
        }
        let mut mt = Mt19937::new(seed);
        for x in list(case, "rand_x8") {
            assert_eq!(
                mt.next_f64().to_bits(),
                x.as_f64().unwrap().to_bits(),
                "seed {seed}: rand"
            );
        }
        let mut mt = Mt19937::new(seed);
        for x in list(case, "randint_0_2_x8") {
            assert_eq!(
                mt.randint(0, 2),
                x.as_i64().unwrap(),
                "seed {seed}: randint"
            );
        }
    }
}

/// The Gymnasium ids, spaces and action sets of MinAtar's registration.
#[test]
fn ids_spaces_and_action_sets() {
    let expected = [
        ("Asterix", 4, 5),
        ("Breakout", 4, 3),
        ("Freeway", 7, 3),
        ("Seaquest", 10, 6),
        ("SpaceInvaders", 6, 4),
    ];
    for (game, channels, minimal) in expected {
        for (version, n) in [("v0", 6), ("v1", minimal)] {
            let env = make(&format!("MinAtar/{game}-{version}"), &Options::new()).unwrap();
            assert_eq!(env.observation_space().flat_dim(), 100 * channels, "{game}");
            assert_eq!(
                env.observation_space().describe(),
                format!("Box(0.0, 1.0, (10, 10, {channels}), float32)")
            );
            assert_eq!(env.action_space().describe(), format!("Discrete({n})"));
        }
    }
    assert_eq!(GAMES.len(), expected.len());
}

fn rollout(id: &str, options: &Options, seed: u64, steps: usize) -> Vec<f32> {
    let mut env = make(id, options).unwrap();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    env.reset(Some(seed), &mut obs).unwrap();
    let n = env.action_space().flat_dim();
    assert_eq!(n, 1);
    let mut trace = Vec::new();
    let mut k = 0u64;
    for _ in 0..steps {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = ((k >> 33) % 3) as i64;
        let s = env.step(Action::Discrete(a), &mut obs).unwrap();
        trace.extend_from_slice(&obs);
        trace.push(s.reward as f32);
        if s.done() {
            env.reset(None, &mut obs).unwrap();
        }
    }
    trace
}

/// Sticky actions: probability 0 follows the agent exactly, 1 never leaves the first action
/// (MinAtar's `last_action` starts at no-op), and 0.1 differs from both.
#[test]
fn sticky_actions_change_the_dynamics() {
    let id = "MinAtar/Breakout-v1";
    let with = |p: f64| rollout(id, &Options::new().with("sticky_action_prob", p), 7, 300);
    let (never, default, always) = (with(0.0), with(0.1), with(1.0));
    assert_ne!(never, default);
    assert_ne!(default, always);
    // With probability 1 the paddle never moves from column 4 (channel 0 of row 9).
    for frame in always.chunks(401) {
        assert_eq!(frame[(9 * 10 + 4) * 4], 1.0);
    }
    assert_eq!(
        default,
        rollout(id, &Options::new(), 7, 300),
        "default is 0.1"
    );
    let err = make(id, &Options::new().with("sticky_action_prob", 1.5))
        .err()
        .unwrap();
    assert!(err.to_string().contains("sticky_action_prob"), "{err}");
}

/// Difficulty ramping (Asterix: faster spawns every 100 frames) only when it is on.
#[test]
fn difficulty_ramping_on_and_off() {
    use engram_env::minatar::{Asterix, MinAtar};
    for ramping in [true, false] {
        let mut env = MinAtar::<Asterix>::new(true, 0.0, ramping);
        let mut obs = vec![0.0; 400];
        env.reset(Some(3), &mut obs).unwrap();
        let mut highest = 0;
        for t in 0..5000u64 {
            // Keep moving up and down: a still player is caught quickly.
            let a = if (t / 4) % 2 == 0 { 2 } else { 4 };
            let s = env.step(Action::Discrete(a), &mut obs).unwrap();
            highest = highest.max(env.difficulty_ramp().unwrap());
            if s.done() {
                env.reset(None, &mut obs).unwrap();
            }
        }
        if ramping {
            assert!(highest >= 1, "the ramp never advanced");
        } else {
            assert_eq!(highest, 0);
        }
    }
}

#[test]
fn render_is_an_rgb_image_and_bad_input_is_an_error() {
    let mut env = make("MinAtar/Seaquest-v1", &Options::new()).unwrap();
    assert!(env.render(RenderMode::Rgb).is_err(), "render before reset");
    let mut obs = vec![0.0; 1000];
    env.reset(Some(0), &mut obs).unwrap();
    match env.render(RenderMode::Rgb).unwrap() {
        engram_env::Render::Rgb {
            width,
            height,
            pixels,
        } => {
            assert_eq!((width, height, pixels.len()), (160, 160, 160 * 160 * 3));
            assert!(pixels.iter().any(|&p| p != 0), "the submarine is drawn");
        }
        other => panic!("expected an RGB frame, got {other:?}"),
    }
    assert!(env.step(Action::Discrete(6), &mut obs).is_err());
    assert!(env.step(Action::Discrete(0), &mut obs[..10]).is_err());
    // Seeds past 2^32 (numpy would refuse them) seed through numpy's array seeding.
    env.reset(Some(1 << 40), &mut obs).unwrap();
}
