//! The textbook's environments behave as Sutton & Barto describe them.

use engram_env::registry::{make, Options};
use engram_env::{Action, Env, InfoValue, Model};

fn env(id: &str, options: &[(&str, serde_json::Value)]) -> Box<dyn Env> {
    let mut o = Options::new();
    for (k, v) in options {
        o.set(k, v.clone());
    }
    make(id, &o).unwrap()
}

/// Steps of the shortest path from the start to a terminating transition, by breadth-first
/// search over the outcomes of a deterministic model.
fn shortest_path(model: &Model) -> usize {
    let start = model.initial.iter().position(|&p| p == 1.0).unwrap();
    let mut depth = vec![usize::MAX; model.n_states()];
    depth[start] = 0;
    let mut frontier = vec![start];
    for d in 1.. {
        let mut next = Vec::new();
        for &s in &frontier {
            for a in 0..model.n_actions() {
                for o in model.outcomes(s, a) {
                    if o.terminated {
                        return d;
                    }
                    if depth[o.next as usize] == usize::MAX {
                        depth[o.next as usize] = d;
                        next.push(o.next as usize);
                    }
                }
            }
        }
        assert!(!next.is_empty(), "no path to the goal");
        frontier = next;
    }
    unreachable!()
}

#[test]
fn shortest_paths_are_the_books() {
    // Windy gridworld: 15 steps (Example 6.5), 7 with king's moves (Exercise 6.9).
    let windy = env("WindyGridworld-v0", &[]).model().unwrap();
    assert_eq!(shortest_path(&windy), 15);
    let king = env("WindyGridworld-v0", &[("king_moves", true.into())]);
    assert_eq!(king.action_space(), &engram_env::Space::discrete(8));
    assert_eq!(shortest_path(&king.model().unwrap()), 7);
    // Dyna maze: 14 steps (Figure 8.2).
    assert_eq!(shortest_path(&env("DynaMaze-v0", &[]).model().unwrap()), 14);
}

#[test]
fn the_blocking_maze_changes_after_1000_steps_across_episodes() {
    let mut maze = env("BlockingMaze-v0", &[]);
    assert!(maze.model().is_none());
    let mut obs = [0.0f32];
    maze.reset(Some(0), &mut obs).unwrap();
    assert_eq!(obs[0], 48.0); // (5, 3)
                              // Going right to (5, 8), then up: the gap at column 8 is open for 1000 steps.
    let mut steps = 0;
    let mut walk = |maze: &mut Box<dyn Env>, moves: &[i64], obs: &mut [f32; 1]| {
        for &a in moves {
            maze.step(Action::Discrete(a), obs).unwrap();
            steps += 1;
        }
    };
    walk(&mut maze, &[1; 5], &mut obs);
    walk(&mut maze, &[0; 2], &mut obs);
    assert_eq!(obs[0], (3 * 9 + 8) as f32, "through the gap on the right");
    // Burn steps (across episodes) up to the change, then the right gap is closed.
    maze.reset(None, &mut obs).unwrap();
    for _ in 7..1000 {
        maze.step(Action::Discrete(2), &mut obs).unwrap(); // down: stays in the bottom row
    }
    maze.reset(None, &mut obs).unwrap();
    let mut moves = vec![1; 5];
    moves.extend([0, 0]);
    for a in moves {
        maze.step(Action::Discrete(a), &mut obs).unwrap();
    }
    assert_eq!(obs[0], (4 * 9 + 8) as f32, "blocked below the wall");
    assert_eq!(maze.state().unwrap()[1], 1007.0);
}

#[test]
fn gamblers_stakes_are_masked_above_the_reachable() {
    let g = env("GamblersProblem-v0", &[("p_h", 0.25.into())]);
    let m = g.model().unwrap();
    // Capital 3: stakes 1, 2, 3 only (action index i is stake i + 1).
    assert!((0..3).all(|i| m.allowed(3, i)) && !m.allowed(3, 3));
    let o = m.outcomes(60, 39); // stake 40 from 60: win to 100
    assert_eq!(
        (o[0].prob, o[0].next, o[0].reward, o[0].terminated),
        (0.25, 100, 1.0, true)
    );
    assert_eq!((o[1].next, o[1].terminated), (20, false));
}

#[test]
fn the_random_walk_has_its_two_sizes() {
    let five = env("RandomWalk-v0", &[]);
    assert_eq!(five.observation_space(), &engram_env::Space::discrete(7));
    let m = five.model().unwrap();
    assert_eq!(m.outcomes(1, 0)[0].reward, 0.0);
    assert_eq!(m.outcomes(5, 1)[0].reward, 1.0);
    let nineteen = env("RandomWalk-v0", &[("n_states", 19.into())])
        .model()
        .unwrap();
    assert_eq!(nineteen.outcomes(1, 0)[0].reward, -1.0);
    assert!(make("RandomWalk-v0", &Options::new().with("n_states", 4)).is_err());
}

#[test]
fn bandit_arms_are_the_instances_and_info_names_the_best() {
    let draw = |seed| {
        let mut b = env("Bandit-v0", &[]);
        let mut obs = [0.0f32];
        b.reset(Some(seed), &mut obs).unwrap();
        let first = b.state().unwrap();
        let step = b.step(Action::Discrete(3), &mut obs).unwrap();
        assert!(step.terminated);
        // A later seeded reset keeps the arms.
        b.reset(Some(seed + 100), &mut obs).unwrap();
        assert_eq!(b.state().unwrap(), first);
        let best = match b.info()[0].1 {
            InfoValue::Int(i) => i as usize,
            _ => panic!(),
        };
        let means = &first[..10];
        assert!(means.iter().all(|m| *m <= means[best]));
        first
    };
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
}

#[test]
fn jacks_model_is_a_distribution_with_the_books_rewards() {
    let jack = env("JacksCarRental-v0", &[]);
    let m = jack.model().unwrap();
    assert_eq!((m.n_states(), m.n_actions()), (441, 11));
    // No cars anywhere, no move: nothing can be rented.
    let o = m.outcomes(0, 5);
    let reward: f64 = o.iter().map(|o| o.prob * o.reward).sum();
    assert!(reward.abs() < 1e-12);
    // 20 and 20, move 3 from the first: pays 6 for the move.
    let s = 20 * 21 + 20;
    let reward: f64 = m.outcomes(s, 8).iter().map(|o| o.prob * o.reward).sum();
    let no_move: f64 = m.outcomes(s, 5).iter().map(|o| o.prob * o.reward).sum();
    // Both locations keep at least 17 cars: rentals hardly change (Poisson 3 and 4).
    assert!((no_move - reward - 6.0).abs() < 0.5, "{no_move} {reward}");
}
