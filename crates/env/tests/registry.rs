//! The registry: make by id with options, the wrappers make applies, and its errors.
//! (Tests share one process-wide registry: each registers its own ids.)

mod common;

use common::{Counter, Walker};
use engram_env::registry::{ids, make, make_with, register, spec, specs, EnvSpec, Options};
use engram_env::{Action, Env, EnvError};
use serde_json::json;

/// Options: `terminate_at` (integer, default none), `scale` (number, ignored), `label`
/// (string), `tags` (list of strings), `fast` (bool).
fn counter_entry(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let terminate_at = options.take_opt_usize("terminate_at")?;
    let _scale = options.take_f64("scale", 1.0)?;
    let _label = options.take_str("label", "none")?;
    let _tags = options.take_str_list("tags", &[])?;
    let _fast = options.take_bool("fast", false)?;
    Ok(Box::new(Counter::new(terminate_at.map(|t| t as u32))))
}

fn walker_entry(_options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    Ok(Box::new(Walker::new()))
}

fn register_counter(id: &str, limit: Option<usize>) {
    let mut spec = EnvSpec::new(id, counter_entry).with_description("test counter");
    if let Some(limit) = limit {
        spec = spec.with_max_episode_steps(limit);
    }
    register(spec).unwrap();
}

#[test]
fn make_applies_time_limit_and_order_enforcement() {
    register_counter("TestCounterLimit-v0", Some(4));
    let mut env = make("TestCounterLimit-v0", &Options::new()).unwrap();
    let mut obs = [0.0];
    assert_eq!(
        env.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NotReset)
    );
    env.reset(Some(0), &mut obs).unwrap();
    let truncated: Vec<bool> = (0..4)
        .map(|_| env.step(Action::Discrete(0), &mut obs).unwrap().truncated)
        .collect();
    assert_eq!(truncated, [false, false, false, true]);
    // After truncation by the time limit, stepping is an error too.
    assert_eq!(
        env.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NeedsReset)
    );
    env.reset(None, &mut obs).unwrap();
    let err = env.step(Action::Discrete(5), &mut obs).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }), "{err}");

    // Overrides: the argument, then the `max_episode_steps` option, then the spec.
    let mut env = make_with("TestCounterLimit-v0", &Options::new(), Some(2)).unwrap();
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert!(env.step(Action::Discrete(0), &mut obs).unwrap().truncated);
    let options = Options::new().with("max_episode_steps", 1);
    let mut env = make("TestCounterLimit-v0", &options).unwrap();
    env.reset(None, &mut obs).unwrap();
    assert!(env.step(Action::Discrete(0), &mut obs).unwrap().truncated);
}

#[test]
fn make_without_time_limit_still_enforces_order() {
    register_counter("TestCounterNoLimit-v0", None);
    let options = Options::new().with("terminate_at", 2);
    let mut env = make("TestCounterNoLimit-v0", &options).unwrap();
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    for _ in 0..1 {
        assert!(!env.step(Action::Discrete(0), &mut obs).unwrap().done());
    }
    assert!(env.step(Action::Discrete(0), &mut obs).unwrap().terminated);
    assert_eq!(
        env.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NeedsReset)
    );
    // No limit at all: 1000 steps without truncation.
    let mut env = make("TestCounterNoLimit-v0", &Options::new()).unwrap();
    env.reset(None, &mut obs).unwrap();
    for _ in 0..1000 {
        assert!(!env.step(Action::Discrete(0), &mut obs).unwrap().done());
    }
}

#[test]
fn spec_default_options_are_overridden_by_the_users() {
    register(
        EnvSpec::new("TestCounterDefaults-v0", counter_entry)
            .with_default_option("terminate_at", 1),
    )
    .unwrap();
    let mut obs = [0.0];
    let mut env = make("TestCounterDefaults-v0", &Options::new()).unwrap();
    env.reset(None, &mut obs).unwrap();
    assert!(env.step(Action::Discrete(0), &mut obs).unwrap().terminated);
    let mut env = make(
        "TestCounterDefaults-v0",
        &Options::new().with("terminate_at", 3),
    )
    .unwrap();
    env.reset(None, &mut obs).unwrap();
    assert!(!env.step(Action::Discrete(0), &mut obs).unwrap().terminated);
    // `null` (Python's None) means "the default".
    let options = Options::new().with("terminate_at", serde_json::Value::Null);
    assert!(make("TestCounterDefaults-v0", &options).is_ok());
}

#[test]
fn duplicate_ids_are_rejected() {
    register_counter("TestDuplicate-v0", None);
    let err = register(EnvSpec::new("TestDuplicate-v0", walker_entry)).unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    assert!(err.to_string().contains("TestDuplicate-v1"), "{err}");
    // The first registration is untouched.
    assert_eq!(
        spec("TestDuplicate-v0").unwrap().description,
        "test counter"
    );
    assert!(register(EnvSpec::new(" ", walker_entry)).is_err());
}

#[test]
fn unknown_ids_suggest_the_closest() {
    register_counter("TestMazeRunner-v0", None);
    let err = make("TestMazeRuner-v0", &Options::new()).err().unwrap();
    assert!(matches!(err, EnvError::UnknownId { .. }));
    assert!(
        err.to_string().contains("did you mean `TestMazeRunner-v0`"),
        "{err}"
    );
    // Case and version slips.
    let err = spec("testmazerunner-v1").unwrap_err().to_string();
    assert!(err.contains("`TestMazeRunner-v0`"), "{err}");
    // Nothing close: point at the list.
    let err = spec("Zzzzzzzzzzzzzzzzzzzzzz").unwrap_err().to_string();
    assert!(err.contains("engram envs"), "{err}");
}

#[test]
fn unknown_options_list_the_valid_ones() {
    register_counter("TestOptions-v0", None);
    let options = Options::new().with("terminat_at", 3);
    let err = make("TestOptions-v0", &options).err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, EnvError::BadOption { .. }));
    assert!(text.contains("unknown option `terminat_at`"), "{text}");
    assert!(text.contains("did you mean `terminate_at`"), "{text}");
    assert!(
        text.contains(
            "valid options: fast, label, max_episode_steps, render_mode, scale, tags, terminate_at"
        ),
        "{text}"
    );
    assert!(text.contains("TestOptions-v0"), "{text}");

    register(EnvSpec::new("TestNoOptions-v0", walker_entry)).unwrap();
    let err = make("TestNoOptions-v0", &Options::new().with("x", 1))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("its constructor declares no options"),
        "{err}"
    );
    // make's own options are accepted by every env.
    let options = Options::new()
        .with("render_mode", "rgb_array")
        .with("max_episode_steps", 10);
    assert!(make("TestNoOptions-v0", &options).is_ok());
}

#[test]
fn ill_typed_options_are_clear_errors() {
    register_counter("TestTypes-v0", None);
    let cases = [
        ("fast", json!("yes"), "option `fast` must be a boolean"),
        (
            "scale",
            json!("big"),
            "option `scale` must be a finite number",
        ),
        ("terminate_at", json!(-3), "must be a non-negative integer"),
        (
            "terminate_at",
            json!(2.5),
            "option `terminate_at` must be an integer",
        ),
        ("label", json!(7), "option `label` must be a string"),
        (
            "tags",
            json!(["a", 1]),
            "option `tags` must be a list of strings",
        ),
        (
            "tags",
            json!("a"),
            "option `tags` must be a list of strings",
        ),
        ("max_episode_steps", json!("many"), "must be an integer"),
    ];
    for (key, value, expected) in cases {
        let err = make("TestTypes-v0", &Options::new().with(key, value.clone()))
            .err()
            .unwrap();
        assert!(matches!(err, EnvError::BadOption { ref id, .. } if id == "TestTypes-v0"));
        assert!(err.to_string().contains(expected), "{key}={value}: {err}");
    }
    let ok = Options::new()
        .with("fast", "False") // a Python user's spelling
        .with("scale", 2)
        .with("terminate_at", 3.0)
        .with("tags", json!(["SFFF", "FHFH"]));
    assert!(make("TestTypes-v0", &ok).is_ok());
}

#[test]
fn command_line_assignments_parse_as_json_or_strings() {
    let options = Options::parse_assignments([
        "is_slippery=false",
        "p=0.25",
        "n=3",
        "map_name=8x8",
        r#"desc=["SFFF","FHFH"]"#,
        "name=",
        "eq=a=b",
    ])
    .unwrap();
    assert_eq!(options.get("is_slippery"), Some(&json!(false)));
    assert_eq!(options.get("p"), Some(&json!(0.25)));
    assert_eq!(options.get("n"), Some(&json!(3)));
    assert_eq!(options.get("map_name"), Some(&json!("8x8")));
    assert_eq!(options.get("desc"), Some(&json!(["SFFF", "FHFH"])));
    assert_eq!(options.get("name"), Some(&json!("")));
    assert_eq!(options.get("eq"), Some(&json!("a=b")));
    assert!(Options::parse_assignments(["no_equals_sign"]).is_err());
    assert!(Options::parse_assignments(["=3"]).is_err());

    let mut typed = options.clone();
    assert!(!typed.take_bool("is_slippery", true).unwrap());
    assert_eq!(typed.take_f64("p", 0.0).unwrap(), 0.25);
    assert_eq!(typed.take_usize("n", 0).unwrap(), 3);
    assert_eq!(typed.take_i64("missing", -7).unwrap(), -7);
    assert_eq!(typed.take_str("map_name", "4x4").unwrap(), "8x8");
    assert_eq!(
        typed.take_opt_str_list("desc").unwrap(),
        Some(vec!["SFFF".to_string(), "FHFH".to_string()])
    );
    assert_eq!(typed.values.len(), 2); // name, eq left
    assert!(typed.check_all_taken().is_err());

    // A golden file's make_kwargs.
    let golden = Options::from_json(&json!({"is_slippery": false})).unwrap();
    assert_eq!(golden, Options::new().with("is_slippery", false));
    assert_eq!(golden.to_json(), json!({"is_slippery": false}));
    assert!(Options::from_json(&json!([1])).is_err());
}

#[test]
fn listing_includes_registered_and_partial_observability_ids() {
    register_counter("TestListed-v0", Some(9));
    let all = ids();
    for id in ["TestListed-v0", "CartPoleNoVel-v1", "CartPoleFlicker-v1"] {
        assert!(all.iter().any(|i| i == id), "{id} missing from {all:?}");
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    let flicker = specs()
        .into_iter()
        .find(|s| s.id == "CartPoleFlicker-v1")
        .unwrap();
    assert_eq!(flicker.max_episode_steps, Some(500));
    assert_eq!(flicker.reward_threshold, Some(475.0));
    assert_eq!(flicker.default_options.get("p"), Some(&json!(0.5)));
    assert_eq!(spec("TestListed-v0").unwrap().max_episode_steps, Some(9));
}
