//! POPGym environments at every level, through the registry: spaces as POPGym declares them,
//! episode lengths within POPGym's limits, per-episode returns within [-1, 1], errors instead of
//! panics, and long random-action rollouts.

use engram_env::{make, Action, Env, EnvError, Options, Space};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `(family, observation space, action space, max episode length per level, exact?)` from the
/// table in `shared/oracles/README.md` (exact: every episode has exactly that length).
type Family = (
    &'static str,
    [&'static str; 3],
    [&'static str; 3],
    [usize; 3],
    bool,
);

fn families() -> Vec<Family> {
    let md = |n: usize, k: u64| format!("MultiDiscrete([{}])", vec![k.to_string(); n].join(" "));
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let c3 = leak(md(52, 3));
    vec![
        (
            "Autoencode",
            ["Tuple(Discrete(2), Discrete(4))"; 3],
            ["Discrete(4)"; 3],
            [103, 207, 311],
            true,
        ),
        (
            "Battleship",
            ["Discrete(2)"; 3],
            [
                "MultiDiscrete([8 8])",
                "MultiDiscrete([10 10])",
                "MultiDiscrete([12 12])",
            ],
            [64, 100, 144],
            false,
        ),
        (
            "Concentration",
            [c3, leak(md(104, 3)), leak(md(52, 14))],
            ["Discrete(52)", "Discrete(104)", "Discrete(52)"],
            [104, 208, 104],
            false,
        ),
        (
            "CountRecall",
            [
                "MultiDiscrete([2 2])",
                "MultiDiscrete([4 4])",
                "MultiDiscrete([13 13])",
            ],
            ["Discrete(27)", "Discrete(27)", "Discrete(17)"],
            [51, 103, 207],
            true,
        ),
        (
            "HigherLower",
            ["Discrete(13)"; 3],
            ["Discrete(2)"; 3],
            [51, 103, 155],
            true,
        ),
        (
            "LabyrinthEscape",
            [leak(md(10, 5)); 3],
            ["Discrete(4)"; 3],
            [1023; 3],
            false,
        ),
        (
            "LabyrinthExplore",
            [leak(md(10, 5)); 3],
            ["Discrete(4)"; 3],
            [1023; 3],
            false,
        ),
        (
            "MineSweeper",
            ["Discrete(3)", "Discrete(7)", "Discrete(10)"],
            [
                "MultiDiscrete([4 4])",
                "MultiDiscrete([6 6])",
                "MultiDiscrete([8 8])",
            ],
            [14, 30, 54],
            false,
        ),
        (
            "MultiarmedBandit",
            ["Discrete(2)"; 3],
            ["Discrete(10)", "Discrete(20)", "Discrete(30)"],
            [200, 400, 600],
            true,
        ),
        (
            "NoisyPositionOnlyCartPole",
            ["Box((2,), float32)"; 3],
            ["Discrete(2)"; 3],
            [200; 3],
            false,
        ),
        (
            "NoisyPositionOnlyPendulum",
            ["Box(-1.0, 1.0, (2,), float32)"; 3],
            ["Box(-2.0, 2.0, (1,), float32)"; 3],
            [200; 3],
            true,
        ),
        (
            "PositionOnlyCartPole",
            ["Box((2,), float32)"; 3],
            ["Discrete(2)"; 3],
            [200, 400, 600],
            false,
        ),
        (
            "PositionOnlyPendulum",
            ["Box(-1.0, 1.0, (2,), float32)"; 3],
            ["Box(-2.0, 2.0, (1,), float32)"; 3],
            [200, 150, 100],
            true,
        ),
        (
            "RepeatFirst",
            ["Discrete(4)"; 3],
            ["Discrete(4)"; 3],
            [51, 415, 831],
            true,
        ),
        (
            "RepeatPrevious",
            ["Discrete(4)"; 3],
            ["Discrete(4)"; 3],
            [51, 103, 155],
            true,
        ),
        (
            "VelocityOnlyCartpole",
            ["Box(-inf, inf, (2,), float32)"; 3],
            ["Discrete(2)"; 3],
            [200, 400, 600],
            false,
        ),
    ]
}

const LEVELS: [&str; 3] = ["Easy", "Medium", "Hard"];

/// A random action, owned (the env borrows it per step).
enum Owned {
    Discrete(i64),
    Multi(Vec<i64>),
    Continuous(Vec<f32>),
}

impl Owned {
    fn as_action(&self) -> Action<'_> {
        match self {
            Owned::Discrete(a) => Action::Discrete(*a),
            Owned::Multi(a) => Action::MultiDiscrete(a),
            Owned::Continuous(a) => Action::Continuous(a),
        }
    }
}

fn random_action(space: &Space, rng: &mut ChaCha8Rng) -> Owned {
    match space {
        Space::Discrete { n, start } => Owned::Discrete(start + rng.gen_range(0..*n) as i64),
        Space::MultiDiscrete { nvec } => {
            Owned::Multi(nvec.iter().map(|&n| rng.gen_range(0..n) as i64).collect())
        }
        Space::Box { .. } => Owned::Continuous(space.sample(rng)),
        Space::Tuple(_) => unreachable!("no POPGym action space is a Tuple"),
    }
}

#[test]
fn spaces_lengths_and_returns_match_popgym() {
    for (family, obs_spaces, act_spaces, max_lengths, exact) in families() {
        for (l, level) in LEVELS.iter().enumerate() {
            let id = format!("popgym-{family}{level}-v0");
            let mut env = make(&id, &Options::default()).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(env.observation_space().describe(), obs_spaces[l], "{id}");
            assert_eq!(env.action_space().describe(), act_spaces[l], "{id}");
            let obs_space = env.observation_space().clone();
            let act_space = env.action_space().clone();
            let mut obs = vec![0.0; obs_space.flat_dim()];
            let mut rng = ChaCha8Rng::seed_from_u64(l as u64);
            let episodes = if family.starts_with("Labyrinth") {
                3
            } else {
                20
            };
            for episode in 0..episodes {
                env.reset(Some(episode), &mut obs).unwrap();
                assert!(
                    obs_space.contains(&obs),
                    "{id}: reset obs {obs:?} outside {obs_space}"
                );
                let (mut length, mut total) = (0usize, 0.0f64);
                loop {
                    let a = random_action(&act_space, &mut rng);
                    let step = env
                        .step(a.as_action(), &mut obs)
                        .unwrap_or_else(|e| panic!("{id}: {e}"));
                    length += 1;
                    total += step.reward;
                    assert!(
                        obs_space.contains(&obs),
                        "{id}: obs {obs:?} outside {obs_space}"
                    );
                    assert!(
                        length <= max_lengths[l],
                        "{id}: episode longer than {}",
                        max_lengths[l]
                    );
                    if step.done() {
                        break;
                    }
                }
                if exact {
                    assert_eq!(length, max_lengths[l], "{id}: episode length");
                }
                // Battleship's all-miss episode is POPGym's documented exception to [-1, 1].
                let low = if family == "Battleship" {
                    let squares = max_lengths[l] as f64;
                    -squares / (squares - 12.0)
                } else {
                    -1.0
                };
                assert!(
                    total >= low - 1e-9 && total <= 1.0 + 1e-9,
                    "{id}: return {total}"
                );
                assert_eq!(
                    env.step(Action::Discrete(0), &mut obs).unwrap_err(),
                    EnvError::NeedsReset,
                    "{id}"
                );
            }
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    for (family, ..) in families() {
        for level in LEVELS {
            let id = format!("popgym-{family}{level}-v0");
            let mut env = make(&id, &Options::default()).unwrap();
            let mut obs = vec![0.0; env.observation_space().flat_dim()];
            assert!(
                env.step(Action::Discrete(0), &mut obs).is_err(),
                "{id}: step before reset"
            );
            env.reset(Some(0), &mut obs).unwrap();
            let bad = match env.action_space() {
                Space::Discrete { n, .. } => Action::Discrete(*n as i64),
                Space::MultiDiscrete { .. } => Action::MultiDiscrete(&[0, 99]),
                _ => Action::Continuous(&[f32::NAN]),
            };
            match env.step(bad, &mut obs) {
                Err(EnvError::InvalidAction { .. }) => {}
                other => panic!("{id}: expected InvalidAction, got {other:?}"),
            }
            let mut short = vec![0.0; 0];
            assert!(
                env.reset(Some(0), &mut short).is_err(),
                "{id}: short buffer"
            );
        }
    }
    let opts = Options::default().with("k", 3);
    match make("popgym-RepeatPreviousEasy-v0", &opts) {
        Err(EnvError::BadOption { .. }) => {}
        other => panic!("expected BadOption, got {:?}", other.map(|_| ())),
    }
}

/// Seeded resets are reproducible, and different seeds give different episodes.
#[test]
fn seeding_is_deterministic() {
    for (family, ..) in families() {
        let id = format!("popgym-{family}Easy-v0");
        let run = |seed| {
            let mut env = make(&id, &Options::default()).unwrap();
            let space = env.action_space().clone();
            let mut obs = vec![0.0; env.observation_space().flat_dim()];
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            env.reset(Some(seed), &mut obs).unwrap();
            let mut trace = obs.clone();
            for _ in 0..40 {
                let a = random_action(&space, &mut rng);
                let s = env.step(a.as_action(), &mut obs).unwrap();
                trace.extend(&obs);
                trace.push(s.reward as f32);
                if s.done() {
                    env.reset(None, &mut obs).unwrap();
                }
            }
            trace
        };
        assert_eq!(run(3), run(3), "{id}");
    }
}

#[test]
fn tmaze_is_registered_with_options() {
    let opts = Options::default().with("length", 4);
    let mut env = make("TMaze-v0", &opts).unwrap();
    let mut obs = [0.0f32];
    env.reset(Some(0), &mut obs).unwrap();
    let cue_up = obs[0] == 0.0;
    for _ in 0..4 {
        env.step(Action::Discrete(0), &mut obs).unwrap();
    }
    assert_eq!(obs[0], 3.0, "junction after `length` steps");
    let s = env
        .step(Action::Discrete(if cue_up { 2 } else { 3 }), &mut obs)
        .unwrap();
    assert_eq!((s.reward, s.terminated), (1.0, true));
    assert!(make("TMaze-v0", &Options::default().with("length", 0)).is_err());
}

/// Million-step random rollouts of the two benchmark envs never panic.
#[test]
fn long_random_rollouts() {
    for id in [
        "popgym-RepeatPreviousHard-v0",
        "popgym-PositionOnlyCartPoleHard-v0",
        "popgym-ConcentrationMedium-v0",
    ] {
        let mut env = make(id, &Options::default()).unwrap();
        let space = env.action_space().clone();
        let mut obs = vec![0.0; env.observation_space().flat_dim()];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        env.reset(Some(1), &mut obs).unwrap();
        let mut episodes = 0;
        for _ in 0..200_000 {
            let a = random_action(&space, &mut rng);
            if env.step(a.as_action(), &mut obs).unwrap().done() {
                episodes += 1;
                env.reset(None, &mut obs).unwrap();
            }
        }
        assert!(episodes > 100, "{id}: {episodes} episodes");
    }
}
