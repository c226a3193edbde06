//! Parity with POPGym 1.0.7: replay all 48 golden files (`popgym-*.json`) with the recorded
//! random draws injected (and the recorded maze grids for the Labyrinths).

mod golden_common;

use engram_env::golden::{replay_file, replay_file_with, ReplayOptions, RngStrategy};
use golden_common::golden_dir;

fn check(family: &str) {
    for level in ["Easy", "Medium", "Hard"] {
        let path = golden_dir().join(format!("popgym-{family}{level}-v0.json"));
        let report = replay_file(&path).unwrap_or_else(|e| panic!("{e}"));
        println!("{report}");
        assert!(report.all_matched(), "{report}");
        assert_eq!(report.rollouts.len(), 3);
        for r in &report.rollouts {
            assert_eq!(r.steps_compared, 500, "{report}");
        }
    }
}

macro_rules! golden {
    ($($name:ident => $family:expr,)*) => { $( #[test] fn $name() { check($family); } )* };
}

golden! {
    autoencode => "Autoencode",
    battleship => "Battleship",
    concentration => "Concentration",
    count_recall => "CountRecall",
    higher_lower => "HigherLower",
    labyrinth_escape => "LabyrinthEscape",
    labyrinth_explore => "LabyrinthExplore",
    minesweeper => "MineSweeper",
    multiarmed_bandit => "MultiarmedBandit",
    noisy_position_only_cartpole => "NoisyPositionOnlyCartPole",
    noisy_position_only_pendulum => "NoisyPositionOnlyPendulum",
    position_only_cartpole => "PositionOnlyCartPole",
    position_only_pendulum => "PositionOnlyPendulum",
    repeat_first => "RepeatFirst",
    repeat_previous => "RepeatPrevious",
    velocity_only_cartpole => "VelocityOnlyCartpole",
}

/// Every family whose draws are all ported bit-exactly (everything but `normal`) reproduces
/// its files from the seed alone, with engram's numpy PCG64 port.
#[test]
fn pcg64_port_reproduces_popgym_draws() {
    let exact = [
        "Autoencode",
        "Battleship",
        "Concentration",
        "CountRecall",
        "HigherLower",
        "LabyrinthEscape",
        "LabyrinthExplore",
        "MineSweeper",
        "MultiarmedBandit",
        "PositionOnlyCartPole",
        "PositionOnlyPendulum",
        "RepeatFirst",
        "RepeatPrevious",
        "VelocityOnlyCartpole",
    ];
    for family in exact {
        let path = golden_dir().join(format!("popgym-{family}Easy-v0.json"));
        let opts = ReplayOptions {
            rng: RngStrategy::Pcg64,
            ..Default::default()
        };
        let report = replay_file_with(&path, &opts).unwrap();
        assert!(report.all_matched(), "{report}");
    }
}

/// All 48 files are present and replayed by the tests above.
#[test]
fn all_48_popgym_files_exist() {
    let n = std::fs::read_dir(golden_dir())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name().into_string().unwrap();
            name.starts_with("popgym-") && name.ends_with(".json")
        })
        .count();
    assert_eq!(n, 48);
}

fn tampered(
    file: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> engram_env::golden::ReplayReport {
    let path = golden_dir().join(file);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    engram_env::golden::replay_value("tampered", &v, &ReplayOptions::default()).unwrap()
}

/// The maze position and the injected grid are really compared and used.
#[test]
fn tampered_maze_files_mismatch() {
    let report = tampered("popgym-LabyrinthEscapeEasy-v0.json", |v| {
        v["rollouts"][0]["steps"][3]["state"]["position"] = serde_json::json!([8, 1]);
    });
    let m = report.rollouts[0]
        .first_mismatch
        .as_ref()
        .expect("a position mismatch");
    assert_eq!((m.step, m.field.as_str()), (Some(3), "state"));

    // Opening a wall beside the start changes what the agent sees right away.
    let report = tampered("popgym-LabyrinthExploreEasy-v0.json", |v| {
        v["rollouts"][0]["reset"]["state"]["grid"][10][2] = serde_json::json!(0);
    });
    let m = report.rollouts[0]
        .first_mismatch
        .as_ref()
        .expect("an observation mismatch");
    assert_eq!((m.step, m.field.as_str()), (None, "obs"));
}

/// Injected draws drive the games: a different recorded shuffle changes the observations.
#[test]
fn tampered_draws_mismatch() {
    let report = tampered("popgym-RepeatPreviousEasy-v0.json", |v| {
        let shuffle = &mut v["rollouts"][1]["reset"]["rng"][0][3];
        let cards = shuffle.as_array_mut().unwrap();
        cards.swap(50, 51);
    });
    let m = report.rollouts[1]
        .first_mismatch
        .as_ref()
        .expect("a mismatch");
    assert!(m.step.is_none() || m.step == Some(0), "{m}");
}
