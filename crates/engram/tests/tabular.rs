//! Tabular methods end to end, against the book (Sutton & Barto, 2nd ed.) and against an
//! independent exact solution: dynamic programming's values equal a linear solve of the
//! Bellman equation, Monte Carlo and TD converge on the random walk, Sarsa walks the safe
//! path along the cliff and Q-learning the optimal one, planning speeds Dyna-Q up, runs
//! resume exactly, and bad input is refused with a message naming the fix.

// Gaussian elimination reads best with indices.
#![allow(clippy::needless_range_loop)]

use engram::train::train;
use engram::RunConfig;
use engram_env::registry::{make, Options};
use engram_env::Model;
use serde_json::Value;
use std::path::Path;

mod common;
use common::{assert_resume_is_exact, tuned, with};

fn values(dir: &Path) -> (Vec<f64>, Vec<Vec<f64>>, Vec<i64>) {
    let text = std::fs::read_to_string(dir.join("values.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NEG_INFINITY))
            .collect()
    };
    let v = floats(&json["v"]);
    let q = json["q"].as_array().unwrap().iter().map(floats).collect();
    let policy = json["policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_i64().unwrap())
        .collect();
    (v, q, policy)
}

fn run(c: RunConfig, dir: &Path) -> engram::runtime::Summary {
    train(c, Some(dir), true).unwrap()
}

fn model(id: &str, options: &[(&str, Value)]) -> std::sync::Arc<Model> {
    let mut o = Options::new();
    for (k, v) in options {
        o.set(k, v.clone());
    }
    make(id, &o).unwrap().model().unwrap()
}

/// `v_pi` by Gaussian elimination of `(I - gamma P_pi) v = r_pi`, `pi` given as action
/// probabilities per state: independent of the iterative sweeps.
fn linear_solve(m: &Model, pi: &dyn Fn(usize) -> Vec<f64>, gamma: f64) -> Vec<f64> {
    let n = m.n_states();
    let mut a = vec![vec![0.0; n + 1]; n];
    for s in 0..n {
        a[s][s] = 1.0;
        for (act, p) in pi(s).into_iter().enumerate() {
            if p == 0.0 {
                continue;
            }
            for o in m.outcomes(s, act) {
                a[s][n] += p * o.prob * o.reward;
                if !o.terminated {
                    a[s][o.next as usize] -= gamma * p * o.prob;
                }
            }
        }
    }
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        let d = a[col][col];
        assert!(d.abs() > 1e-12, "singular system at {col}");
        for k in col..=n {
            a[col][k] /= d;
        }
        for row in 0..n {
            if row != col && a[row][col] != 0.0 {
                let f = a[row][col];
                for k in col..=n {
                    a[row][k] -= f * a[col][k];
                }
            }
        }
    }
    a.iter().map(|r| r[n]).collect()
}

fn greedy_pi(policy: &[i64], n_actions: usize, start: i64) -> impl Fn(usize) -> Vec<f64> + '_ {
    move |s| {
        let mut p = vec![0.0; n_actions];
        p[(policy[s] - start) as usize] = 1.0;
        p
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (s, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}: state {s}: {g} vs {w}");
    }
}

#[test]
fn policy_evaluation_reproduces_figure_4_1_and_the_linear_solve() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pe");
    run(tuned("policy-evaluation", "GridWorld4x4-v0"), &dir);
    let (v, _, _) = values(&dir);
    // Figure 4.1, k = infinity (printed rounded to integers).
    let book = [
        0.0, -14.0, -20.0, -22.0, -14.0, -18.0, -20.0, -20.0, -20.0, -20.0, -18.0, -14.0, -22.0,
        -20.0, -14.0, 0.0,
    ];
    assert_close(&v, &book, 0.5, "Figure 4.1");
    let m = model("GridWorld4x4-v0", &[]);
    let exact = linear_solve(&m, &|_| vec![0.25; 4], 1.0);
    assert_close(&v, &exact, 1e-6, "v_pi against the linear solve");
}

#[test]
fn value_iteration_reproduces_figure_3_5_and_policy_iteration_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let vi = tmp.path().join("vi");
    run(tuned("value-iteration", "GridWorld5x5-v0"), &vi);
    let (v, _, policy) = values(&vi);
    // Figure 3.5, v*, one decimal.
    let book = [
        22.0, 24.4, 22.0, 19.4, 17.5, 19.8, 22.0, 19.8, 17.8, 16.0, 17.8, 19.8, 17.8, 16.0, 14.4,
        16.0, 17.8, 16.0, 14.4, 13.0, 14.4, 16.0, 14.4, 13.0, 11.7,
    ];
    assert_close(&v, &book, 0.05 + 1e-9, "Figure 3.5");
    let m = model("GridWorld5x5-v0", &[]);
    let exact = linear_solve(&m, &greedy_pi(&policy, 4, 0), 0.9);
    assert_close(
        &v,
        &exact,
        1e-6,
        "v* against the linear solve of its greedy policy",
    );
    let pi = tmp.path().join("pi");
    run(tuned("policy-iteration", "GridWorld5x5-v0"), &pi);
    let (v_pi, _, _) = values(&pi);
    assert_close(&v_pi, &v, 1e-6, "policy iteration against value iteration");
}

#[test]
fn frozen_lake_values_equal_the_linear_solve_for_every_dp_method() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, options) in [
        &["env_options.is_slippery=true"][..],
        &["env_options.map_name=\"8x8\""],
    ]
    .iter()
    .enumerate()
    {
        let vi = tmp.path().join(format!("vi{i}"));
        run(
            with(tuned("value-iteration", "FrozenLake-v1"), options),
            &vi,
        );
        let (v, q, policy) = values(&vi);
        let map = if i == 0 { "4x4" } else { "8x8" };
        let m = model("FrozenLake-v1", &[("map_name", map.into())]);
        let exact = linear_solve(&m, &greedy_pi(&policy, 4, 0), 0.99);
        assert_close(&v, &exact, 1e-6, &format!("FrozenLake {map} v*"));
        assert!(v[0] > 0.3, "{map}: the start is worth {}", v[0]);
        assert_eq!(q.len(), m.n_states());
        // Policy iteration, in place and synchronous, modified or not, finds the same values.
        for extra in [&["in_place=false"][..], &["eval_sweeps=5"]] {
            let pi = tmp.path().join(format!("pi{i}{}", extra[0]));
            let mut settings = options.to_vec();
            settings.extend(extra);
            run(
                with(tuned("policy-iteration", "FrozenLake-v1"), &settings),
                &pi,
            );
            let (v_pi, _, _) = values(&pi);
            assert_close(&v_pi, &v, 1e-6, &format!("{map} PI {extra:?} vs VI"));
        }
    }
}

#[test]
fn monte_carlo_and_td_estimate_the_random_walk() {
    // Example 6.2: true values 1/6 ... 5/6 of states A-E (observations 1-5).
    let truth: Vec<f64> = (1..=5).map(|k| k as f64 / 6.0).collect();
    let tmp = tempfile::tempdir().unwrap();
    let rms = |v: &[f64]| {
        (v[1..6]
            .iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / 5.0)
            .sqrt()
    };
    for (algo, settings) in [
        ("td0", &["alpha=0.02", "total_steps=40000"][..]),
        ("td0", &["alpha=0.02", "total_steps=40000", "n_step=3"]),
        ("mc", &["alpha=0", "total_steps=40000"]),
        ("mc", &["alpha=0", "total_steps=40000", "first_visit=false"]),
    ] {
        let dir = tmp.path().join(format!("{algo}{}", settings.len()));
        // mc's tuned entry for the random walk is prediction.
        run(with(tuned(algo, "RandomWalk-v0"), settings), &dir);
        let (v, _, _) = values(&dir);
        let e = rms(&v);
        assert!(
            e < 0.05,
            "{algo} {settings:?}: RMS error {e:.4}, values {v:?}"
        );
    }
    // TD(0) with no step size learns nothing: the RMS error stays the initial 0.5's.
    let dir = tmp.path().join("td-off");
    run(
        with(
            tuned("td0", "RandomWalk-v0"),
            &["alpha=1e-12", "total_steps=5000"],
        ),
        &dir,
    );
    let (v, _, _) = values(&dir);
    assert!(rms(&v) > 0.2, "{v:?}");
}

/// The values of metrics.csv's `column`, one per row.
fn metric_column(dir: &Path, column: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == column).unwrap();
    lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn td_beats_monte_carlo_on_the_random_walk_at_the_books_step_sizes() {
    // Example 6.2's right panel: values start at 0.5; the RMS error over A-E in episodes
    // 76-100 (logged after each), averaged over seeds, is lower for TD(0) at each of the
    // book's alphas than for constant-alpha (every-visit) MC at each of its alphas.
    // (bench/random_walk_figure.py: at episode 100, 100 runs, TD 0.035 / 0.057 / 0.072,
    // MC 0.095 / 0.078 / 0.088 / 0.101.)
    let truth: Vec<f64> = (1..=5).map(|k| k as f64 / 6.0).collect();
    let tmp = tempfile::tempdir().unwrap();
    let mean_rms = |algo: &str, alpha: f64| -> f64 {
        let mut total = 0.0;
        for seed in 0..SEEDS_6_2 {
            let dir = tmp.path().join(format!("{algo}-{alpha}-{seed}"));
            let settings = [
                // mc: every-visit, the book's constant-alpha MC (equation 6.1).
                "first_visit=false".into(),
                format!("alpha={alpha}"),
                format!("seed={seed}"),
                "total_episodes=100".into(),
                "total_steps=1000000".into(),
                "v_init=0.5".into(),
                "log_interval=1".into(),
                "eval_interval=0".into(),
            ];
            let settings: Vec<&str> = settings
                .iter()
                .map(String::as_str)
                .filter(|s| algo == "mc" || !s.starts_with("first_visit"))
                .collect();
            run(with(tuned(algo, "RandomWalk-v0"), &settings), &dir);
            let (v, _, _) = values(&dir);
            // By hand: the root mean square of V - v_pi over the five states.
            let by_hand = (v[1..6]
                .iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / 5.0)
                .sqrt();
            let logged = metric_column(&dir, "rms_error");
            let last = *logged.last().unwrap();
            assert!(
                (last - by_hand).abs() < 1e-6,
                "{algo} alpha {alpha} seed {seed}: rms_error {last} vs {by_hand} by hand"
            );
            let tail = &logged[logged.len().saturating_sub(25)..];
            total += tail.iter().sum::<f64>() / tail.len() as f64;
        }
        total / SEEDS_6_2 as f64
    };
    let td: Vec<f64> = [0.05, 0.1, 0.15].map(|a| mean_rms("td0", a)).to_vec();
    let mc: Vec<f64> = [0.01, 0.02, 0.03, 0.04].map(|a| mean_rms("mc", a)).to_vec();
    let worst_td = td.iter().copied().fold(0.0, f64::max);
    let best_mc = mc.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        worst_td < best_mc,
        "RMS in episodes 76-100: TD {td:?}, MC {mc:?}"
    );
    // Learning at all: from 0.5 everywhere the error is sqrt(1/18) = 0.236.
    assert!(best_mc < 0.2, "MC {mc:?}");
}

const SEEDS_6_2: u64 = 10;

/// Plays a greedy policy on the deterministic cliff from the start; returns the return.
fn cliff_return(policy: &[i64]) -> f64 {
    let m = model("CliffWalking-v1", &[]);
    let (mut s, mut ret) = (36usize, 0.0);
    for _ in 0..100 {
        let o = m.outcomes(s, policy[s] as usize)[0];
        ret += o.reward;
        s = o.next as usize;
        if o.terminated {
            return ret;
        }
    }
    ret
}

#[test]
fn sarsa_walks_the_safe_path_and_q_learning_the_optimal_one() {
    // Example 6.6 with epsilon 0.1; a smaller step (0.1 rather than the figure's 0.5) so that
    // the greedy path read from the table is the settled one (seeds 1-3 agree).
    let tmp = tempfile::tempdir().unwrap();
    let settings = ["total_steps=50000", "seed=1", "alpha=0.1"];
    let q_dir = tmp.path().join("q");
    run(
        with(tuned("q-learning", "CliffWalking-v1"), &settings),
        &q_dir,
    );
    let s_dir = tmp.path().join("sarsa");
    run(with(tuned("sarsa", "CliffWalking-v1"), &settings), &s_dir);
    let (_, _, q_policy) = values(&q_dir);
    let (_, _, s_policy) = values(&s_dir);
    assert_eq!(
        cliff_return(&q_policy),
        -13.0,
        "Q-learning: the path along the edge"
    );
    let safe = cliff_return(&s_policy);
    assert!(
        (-19.0..=-15.0).contains(&safe),
        "Sarsa: a safe path away from the edge, got return {safe}"
    );
}

#[test]
fn planning_makes_dyna_q_finish_more_episodes() {
    // Figure 8.2: with n = 50 planning steps the maze is solved after a few episodes; without
    // planning each episode still wanders. Same 3000 steps, three seeds each.
    let tmp = tempfile::tempdir().unwrap();
    let episodes = |n: usize| -> u64 {
        (0..3)
            .map(|seed| {
                let dir = tmp.path().join(format!("n{n}s{seed}"));
                let c = with(
                    tuned("dyna-q", "DynaMaze-v0"),
                    &[
                        &format!("planning_steps={n}"),
                        &format!("seed={seed}"),
                        "total_steps=3000",
                    ],
                );
                run(c, &dir).episodes
            })
            .sum()
    };
    let (without, with_planning) = (episodes(0), episodes(50));
    assert!(
        with_planning > 3 * without,
        "episodes in 3x3000 steps: {with_planning} with planning, {without} without"
    );
    // Learning off: planning alone cannot help. (A step of 1e-12 is not off: the greedy
    // policy ignores the values' scale, and planning propagates them. At 1e-300 they
    // underflow past the first backup.)
    let dir = tmp.path().join("off");
    let off = run(
        with(
            tuned("dyna-q", "DynaMaze-v0"),
            &["alpha=1e-300", "total_steps=3000"],
        ),
        &dir,
    );
    assert!(
        off.episodes * 3 < with_planning,
        "{} episodes without learning",
        off.episodes
    );
}

#[test]
fn bandit_logs_reward_and_optimal_action_every_step_and_learns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let c = with(
        tuned("bandit", "Bandit-v0"),
        &["epsilon=0.1", "total_steps=2000", "seed=4"],
    );
    run(c, &dir);
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (r, o) = (col("reward"), col("optimal_action"));
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|x| x.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2000, "one row per pull");
    let late: f64 = rows[1000..].iter().map(|row| row[o]).sum::<f64>() / 1000.0;
    assert!(
        late > 0.6,
        "optimal action {late:.2} of the late pulls (chance: 0.1)"
    );
    assert!(rows.iter().all(|row| row[r].is_finite()));
    // The gradient bandit and UCB learn too; a gradient bandit needs a step size.
    for settings in [
        &["exploration=\"gradient\"", "alpha=0.1"][..],
        &["exploration=\"ucb\""],
    ] {
        let dir = tmp.path().join(settings[0].replace('"', ""));
        let mut s = settings.to_vec();
        s.extend(["total_steps=2000", "seed=4"]);
        run(with(tuned("bandit", "Bandit-v0"), &s), &dir);
    }
    let bad = with(tuned("bandit", "Bandit-v0"), &["exploration=\"gradient\""]);
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("alpha"), "{err}");
    // The gradient bandit's preference step may exceed 1 (Figure 2.6 goes to 2); a value
    // average's step may not.
    let gradient = with(
        tuned("bandit", "Bandit-v0"),
        &["exploration=\"gradient\"", "alpha=2"],
    );
    gradient.validate().unwrap();
    let err = with(tuned("bandit", "Bandit-v0"), &["alpha=2"])
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("[0, 1]"), "{err}");
}

#[test]
fn tabular_runs_resume_exactly() {
    for (algo, env, extra) in [
        ("q-learning", "FrozenLake-v1", &["n_step=3"][..]),
        ("sarsa", "CliffWalking-v1", &[]),
        (
            "expected-sarsa",
            "FrozenLake8x8-v1",
            &["exploration=\"boltzmann\""],
        ),
        ("double-q-learning", "Taxi-v3", &[]),
        ("dyna-q", "BlockingMaze-v0", &["kappa=0.001"]),
        ("td0", "RandomWalk-v0", &["n_step=2"]),
        ("mc", "FrozenLake-v1", &["mode=\"off-policy\""]),
        ("mc", "FrozenLake-v1", &["mode=\"exploring-starts\""]),
        ("mc", "Blackjack-v1", &["mode=\"exploring-starts\""]),
        (
            "bandit",
            "Bandit-v0",
            &["exploration=\"ucb\"", "env_options.nonstationary=true"],
        ),
        ("value-iteration", "FrozenLake8x8-v1", &[]),
        ("policy-iteration", "JacksCarRental-v0", &["eval_sweeps=3"]),
        ("policy-evaluation", "GamblersProblem-v0", &[]),
    ] {
        let split = if algo.contains("-i") || algo.contains("evaluation") {
            4
        } else {
            2048
        };
        let mut settings = vec![
            "total_steps=5000",
            "checkpoint_interval=700",
            "log_interval=300",
            "eval_interval=1500",
            "eval_episodes=2",
        ];
        if split == 4 {
            settings = vec!["total_steps=9", "checkpoint_interval=2", "log_interval=1"];
        }
        settings.extend(extra);
        let c = with(tuned(algo, env), &settings);
        assert_resume_is_exact(&c, split, &format!("{algo} on {env}"));
    }
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let refuse = |c: RunConfig, needle: &str| {
        let err = c
            .validate()
            .map_err(|e| e.to_string())
            .and_then(|_| {
                train(c, Some(&tmp.path().join("x")), true)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .unwrap_err();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(
            !tmp.path().join("x").exists(),
            "no run directory for refused input"
        );
    };
    // Dynamic programming needs a model.
    refuse(
        tuned("value-iteration", "Blackjack-v1"),
        "needs the environment's model",
    );
    refuse(
        with(
            tuned("policy-iteration", "Taxi-v4"),
            &["env_options.fickle_passenger=true"],
        ),
        "q-learning, sarsa, mc or dyna-q",
    );
    // Box observations: a deep algorithm or a discretising wrapper.
    refuse(tuned("q-learning", "CartPole-v1"), "deep algorithm");
    refuse(tuned("mc", "MountainCar-v0"), "discretises");
    // Numbers out of range name the key and the fix.
    refuse(
        with(tuned("value-iteration", "GridWorld4x4-v0"), &["theta=0"]),
        "theta=1e-8",
    );
    refuse(
        with(tuned("policy-evaluation", "GridWorld4x4-v0"), &["theta=-1"]),
        "`theta`",
    );
    refuse(
        with(tuned("sarsa", "CliffWalking-v1"), &["epsilon=1.5"]),
        "epsilon=0.1",
    );
    refuse(
        with(tuned("q-learning", "FrozenLake-v1"), &["epsilon=-0.1"]),
        "`epsilon`",
    );
    refuse(tuned("bandit", "FrozenLake-v1"), "single state");
    // Network keys do not apply to tables.
    let mut c = tuned("q-learning", "FrozenLake-v1");
    let err = c.set("learning_rate=0.1").unwrap_err().to_string();
    assert!(err.contains("alpha"), "{err}");
}
