//! The toy-text models equal Gymnasium 1.4's `env.unwrapped.P`, entry for entry and bit for
//! bit: `tests/data/gymnasium_models.json` holds, per environment and options, the number of
//! outcomes and a fingerprint of the whole table computed in Python from `P` (and `P` itself
//! for FrozenLake 4x4, readable in a diff).

use engram_env::registry::{make, Options};
use serde_json::Value;

fn reference() -> Value {
    let text = include_str!("data/gymnasium_models.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn toy_text_models_are_gymnasiums_p() {
    let data = reference();
    let models = data["models"].as_array().unwrap();
    assert_eq!(models.len(), 10);
    for case in models {
        let id = case["env"].as_str().unwrap();
        let options = Options::from_json(&case["options"]).unwrap();
        let env = make(id, &options).unwrap();
        let model = env
            .model()
            .unwrap_or_else(|| panic!("{id} {options:?} has no model"));
        let what = format!("{id} {}", case["options"]);
        assert_eq!(
            model.n_states() as u64,
            case["n_states"].as_u64().unwrap(),
            "{what}"
        );
        assert_eq!(
            model.n_actions() as u64,
            case["n_actions"].as_u64().unwrap(),
            "{what}"
        );
        assert_eq!(
            model.len() as u64,
            case["entries"].as_u64().unwrap(),
            "{what}"
        );
        let expected: u64 = case["fnv1a64"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            model.fingerprint(),
            expected,
            "{what}: P differs from Gymnasium's"
        );
        if let Some(p) = case.get("P") {
            assert_eq!(&model.to_json(), p, "{what}");
        }
    }
}

#[test]
fn dynamics_outside_a_table_have_no_model() {
    let fickle = Options::new().with("fickle_passenger", true);
    assert!(make("Taxi-v4", &fickle).unwrap().model().is_none());
    assert!(make("Blackjack-v1", &Options::new())
        .unwrap()
        .model()
        .is_none());
    assert!(make("CartPole-v1", &Options::new())
        .unwrap()
        .model()
        .is_none());
}

#[test]
fn stepping_follows_the_model() {
    // Every step's outcome is one of P[s][a] with its reward and termination.
    let mut env = make("FrozenLake-v1", &Options::new()).unwrap();
    let model = env.model().unwrap();
    let mut obs = [0.0f32];
    env.reset(Some(3), &mut obs).unwrap();
    for t in 0..2000u64 {
        let (s, a) = (obs[0] as usize, (t % 4) as i64);
        let step = env.step(engram_env::Action::Discrete(a), &mut obs).unwrap();
        let next = obs[0] as u32;
        assert!(model
            .outcomes(s, a as usize)
            .iter()
            .any(|o| o.next == next && o.reward == step.reward && o.terminated == step.terminated));
        if step.done() {
            env.reset(None, &mut obs).unwrap();
        }
    }
}
