//! POPGym throughput: single-env steps per second with random actions (resets included), for
//! the two environments POPGym's README quotes (RepeatPrevious ~136k steps/s, PositionOnly-
//! CartPole ~218k steps/s on a laptop), and optionally every POPGym id.
//!
//! `cargo bench -p engram-env --bench popgym` (add `-- --all` for all 48 ids).

use engram_env::bench::env_steps_per_second;
use engram_env::popgym::make_popgym;

fn main() {
    let all = std::env::args().any(|a| a == "--all");
    let seconds = if all { 0.5 } else { 2.0 };
    let mut ids = vec![
        ("popgym-RepeatPreviousEasy-v0", Some(136_000.0)),
        ("popgym-PositionOnlyCartPoleEasy-v0", Some(218_000.0)),
    ];
    if all {
        for family in [
            "Autoencode",
            "Battleship",
            "Concentration",
            "CountRecall",
            "HigherLower",
            "LabyrinthEscape",
            "LabyrinthExplore",
            "MineSweeper",
            "MultiarmedBandit",
            "NoisyPositionOnlyCartPole",
            "NoisyPositionOnlyPendulum",
            "PositionOnlyCartPole",
            "PositionOnlyPendulum",
            "RepeatFirst",
            "RepeatPrevious",
            "VelocityOnlyCartpole",
        ] {
            for level in ["Easy", "Medium", "Hard"] {
                let id: &'static str =
                    Box::leak(format!("popgym-{family}{level}-v0").into_boxed_str());
                ids.push((id, None));
            }
        }
    }
    for (id, popgym) in ids {
        let mut env = make_popgym(id).expect("registered POPGym id");
        let sps = env_steps_per_second(&mut env, seconds).expect("random actions are valid");
        match popgym {
            Some(theirs) => println!(
                "{id:45} {:>12.0} steps/s  ({:.0}x POPGym's {theirs:.0})",
                sps,
                sps / theirs
            ),
            None => println!("{id:45} {sps:>12.0} steps/s"),
        }
    }
}
