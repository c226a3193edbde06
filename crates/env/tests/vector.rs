//! Vector envs against N single envs stepped by hand, in both autoreset modes; the threaded
//! variant against the synchronous one.

mod common;

use common::{Drift, Grid, Lcg, Walker};
use engram_env::wrappers::{OrderEnforcing, TimeLimit};
use engram_env::{
    Action, AutoresetMode, Env, EnvError, Space, SyncVectorEnv, ThreadedVectorEnv, VectorEnv,
};

const N: usize = 5;
const STEPS: usize = 300;

/// A Walker with a time limit, so that episodes end both ways.
fn walker() -> OrderEnforcing<TimeLimit<Walker>> {
    OrderEnforcing::new(TimeLimit::new(Walker::new(), 7).unwrap())
}

/// Random flat actions for `n` envs of `space`.
fn actions(space: &Space, n: usize, lcg: &mut Lcg) -> Vec<f32> {
    let mut out = Vec::new();
    for _ in 0..n {
        match space {
            Space::Discrete { n, start } => out.push((*start + (lcg.next() % n) as i64) as f32),
            Space::MultiDiscrete { nvec } => {
                out.extend(nvec.iter().map(|&k| (lcg.next() % k) as f32))
            }
            Space::Box { low, .. } => {
                out.extend(low.iter().map(|_| (lcg.next() % 1000) as f32 / 500.0 - 1.0))
            }
            Space::Tuple(_) => unreachable!(),
        }
    }
    out
}

fn action_of<'a>(space: &Space, flat: &'a [f32], scratch: &'a mut Vec<i64>) -> Action<'a> {
    match space {
        Space::Discrete { .. } => Action::Discrete(flat[0] as i64),
        Space::MultiDiscrete { .. } => {
            scratch.clear();
            scratch.extend(flat.iter().map(|&v| v as i64));
            Action::MultiDiscrete(scratch)
        }
        _ => Action::Continuous(flat),
    }
}

/// What one step of the vector env should produce, computed with single envs as Gymnasium's
/// documentation describes the two modes.
struct Reference<E> {
    envs: Vec<E>,
    needs_reset: Vec<bool>,
    obs: Vec<Vec<f32>>,
}

impl<E: Env> Reference<E> {
    fn new(envs: Vec<E>, seed: u64) -> Self {
        let mut r = Reference {
            needs_reset: vec![false; envs.len()],
            obs: envs
                .iter()
                .map(|e| vec![0.0; e.observation_space().flat_dim()])
                .collect(),
            envs,
        };
        for (i, env) in r.envs.iter_mut().enumerate() {
            env.reset(Some(seed + i as u64), &mut r.obs[i]).unwrap();
        }
        r
    }

    /// Returns per env (obs, reward, terminated, truncated, final_obs).
    #[allow(clippy::type_complexity)]
    fn step(
        &mut self,
        mode: AutoresetMode,
        actions: &[f32],
    ) -> Vec<(Vec<f32>, f64, bool, bool, Option<Vec<f32>>)> {
        let space = self.envs[0].action_space().clone();
        let ad = space.flat_dim();
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        for i in 0..self.envs.len() {
            let env = &mut self.envs[i];
            if mode == AutoresetMode::NextStep && self.needs_reset[i] {
                env.reset(None, &mut self.obs[i]).unwrap();
                self.needs_reset[i] = false;
                out.push((self.obs[i].clone(), 0.0, false, false, None));
                continue;
            }
            let a = action_of(&space, &actions[i * ad..(i + 1) * ad], &mut scratch);
            let s = env.step(a, &mut self.obs[i]).unwrap();
            let mut final_obs = None;
            if s.done() {
                match mode {
                    AutoresetMode::NextStep => self.needs_reset[i] = true,
                    AutoresetMode::SameStep => {
                        final_obs = Some(self.obs[i].clone());
                        env.reset(None, &mut self.obs[i]).unwrap();
                    }
                    AutoresetMode::Disabled => unreachable!(),
                }
            }
            out.push((
                self.obs[i].clone(),
                s.reward,
                s.terminated,
                s.truncated,
                final_obs,
            ));
        }
        out
    }
}

fn compare_with_reference<E: Env + Clone, V: VectorEnv>(
    make_env: impl Fn() -> E,
    mut venv: V,
    mode: AutoresetMode,
) -> usize {
    let seed = 77;
    let mut reference = Reference::new((0..N).map(|_| make_env()).collect(), seed);
    venv.reset(Some(seed)).unwrap();
    let d = venv.obs_dim();
    for i in 0..N {
        assert_eq!(
            &venv.observations()[i * d..(i + 1) * d],
            &reference.obs[i][..]
        );
    }
    let mut lcg = Lcg(3);
    let mut episodes_ended = 0;
    for t in 0..STEPS {
        let a = actions(venv.single_action_space(), N, &mut lcg);
        let expected = reference.step(mode, &a);
        venv.step(&a).unwrap();
        for (i, (obs, r, term, trunc, final_obs)) in expected.into_iter().enumerate() {
            let at = format!("step {t}, env {i}");
            assert_eq!(&venv.observations()[i * d..(i + 1) * d], &obs[..], "{at}");
            assert_eq!(venv.rewards()[i], r, "{at}");
            assert_eq!(venv.terminated()[i], term, "{at}");
            assert_eq!(venv.truncated()[i], trunc, "{at}");
            assert_eq!(venv.has_final_observation()[i], final_obs.is_some(), "{at}");
            if let Some(f) = final_obs {
                assert_eq!(
                    &venv.final_observations()[i * d..(i + 1) * d],
                    &f[..],
                    "{at}"
                );
            }
            assert_eq!(venv.finished_episodes()[i].is_some(), term || trunc, "{at}");
            episodes_ended += usize::from(term || trunc);
        }
    }
    episodes_ended
}

#[test]
fn sync_next_step_matches_single_envs() {
    for mode in [AutoresetMode::NextStep, AutoresetMode::SameStep] {
        let venv = SyncVectorEnv::new((0..N).map(|_| walker()).collect(), mode).unwrap();
        let ended = compare_with_reference(walker, venv, mode);
        assert!(
            ended > 50,
            "the test must cover many episode ends, got {ended}"
        );
    }
}

#[test]
fn sync_handles_multidiscrete_and_box_actions() {
    for mode in [AutoresetMode::NextStep, AutoresetMode::SameStep] {
        let venv = SyncVectorEnv::new((0..N).map(|_| Grid::new()).collect(), mode).unwrap();
        assert!(compare_with_reference(Grid::new, venv, mode) > 20);
        let venv = SyncVectorEnv::new((0..N).map(|_| Drift::new()).collect(), mode).unwrap();
        assert!(compare_with_reference(Drift::new, venv, mode) > 5);
    }
}

#[test]
fn threaded_matches_single_envs_and_sync() {
    for threads in [1, 2, 3, 8] {
        for mode in [AutoresetMode::NextStep, AutoresetMode::SameStep] {
            let venv =
                ThreadedVectorEnv::new((0..N).map(|_| walker()).collect(), mode, threads).unwrap();
            assert_eq!(venv.num_threads(), threads.min(N));
            compare_with_reference(walker, venv, mode);
        }
    }
    let venv = ThreadedVectorEnv::new(
        (0..N).map(|_| Grid::new()).collect(),
        AutoresetMode::SameStep,
        2,
    )
    .unwrap();
    compare_with_reference(Grid::new, venv, AutoresetMode::SameStep);

    // Threaded against sync directly, including the episode statistics.
    let mut sync =
        SyncVectorEnv::new((0..N).map(|_| walker()).collect(), AutoresetMode::SameStep).unwrap();
    let mut threaded = ThreadedVectorEnv::new(
        (0..N).map(|_| walker()).collect(),
        AutoresetMode::SameStep,
        3,
    )
    .unwrap();
    sync.reset(Some(5)).unwrap();
    threaded.reset(Some(5)).unwrap();
    let mut lcg = Lcg(9);
    for _ in 0..200 {
        let a = actions(sync.single_action_space(), N, &mut lcg);
        sync.step(&a).unwrap();
        threaded.step(&a).unwrap();
        assert_eq!(sync.observations(), threaded.observations());
        assert_eq!(sync.rewards(), threaded.rewards());
        assert_eq!(sync.finished_episodes(), threaded.finished_episodes());
        assert_eq!(sync.final_observations(), threaded.final_observations());
    }
}

#[test]
fn reset_seeds_env_i_with_seed_plus_i() {
    let mut venv = SyncVectorEnv::new(
        (0..N).map(|_| Walker::new()).collect(),
        AutoresetMode::SameStep,
    )
    .unwrap();
    venv.reset(Some(100)).unwrap();
    for i in 0..N {
        let mut single = Walker::new();
        let mut obs = [0.0; 3];
        single.reset(Some(100 + i as u64), &mut obs).unwrap();
        assert_eq!(&venv.observations()[i * 3..i * 3 + 3], &obs);
    }
}

#[test]
fn finished_episode_statistics_sum_rewards() {
    let mut venv =
        SyncVectorEnv::new((0..3).map(|_| walker()).collect(), AutoresetMode::SameStep).unwrap();
    venv.reset(Some(0)).unwrap();
    let mut running = [0.0f64; 3];
    let mut lengths = [0u64; 3];
    let mut lcg = Lcg(1);
    let mut seen = 0;
    for _ in 0..200 {
        let a = actions(venv.single_action_space(), 3, &mut lcg);
        venv.step(&a).unwrap();
        for i in 0..3 {
            running[i] += venv.rewards()[i];
            lengths[i] += 1;
            if let Some(stats) = venv.finished_episodes()[i] {
                assert!((stats.episode_return - running[i]).abs() < 1e-12);
                assert_eq!(stats.length, lengths[i]);
                assert!(stats.length <= 7);
                running[i] = 0.0;
                lengths[i] = 0;
                seen += 1;
            }
        }
    }
    assert!(seen > 20);
}

#[test]
fn disabled_mode_leaves_resets_to_the_caller() {
    let mut venv =
        SyncVectorEnv::new((0..2).map(|_| walker()).collect(), AutoresetMode::Disabled).unwrap();
    venv.reset(Some(0)).unwrap();
    // Walk env 0 right until its time limit (7 steps) at the latest.
    let mut ended = false;
    for _ in 0..7 {
        venv.step(&[2.0, 1.0]).unwrap();
        if venv.terminated()[0] || venv.truncated()[0] {
            ended = true;
            break;
        }
    }
    assert!(ended);
    assert_eq!(venv.step(&[2.0, 1.0]), Err(EnvError::NeedsReset));
    venv.reset_env(0, Some(3)).unwrap();
    let mut single = Walker::new();
    let mut obs = [0.0; 3];
    single.reset(Some(3), &mut obs).unwrap();
    assert_eq!(&venv.observations()[..3], &obs);
    assert!(venv.reset_env(2, None).is_err());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut venv =
        SyncVectorEnv::new((0..2).map(|_| walker()).collect(), AutoresetMode::SameStep).unwrap();
    assert_eq!(venv.step(&[0.0, 1.0]), Err(EnvError::NotReset));
    venv.reset(None).unwrap();
    let err = venv.step(&[0.0]).unwrap_err();
    assert!(
        err.to_string().contains("expected 2 action floats"),
        "{err}"
    );
    let err = venv.step(&[0.5, 1.0]).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }), "{err}");
    let err = venv.step(&[0.0, 3.0]).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }), "{err}");
    assert!(err.to_string().contains("Discrete(3)"), "{err}");

    let mut threaded = ThreadedVectorEnv::new(
        (0..4).map(|_| walker()).collect(),
        AutoresetMode::SameStep,
        2,
    )
    .unwrap();
    threaded.reset(None).unwrap();
    let err = threaded.step(&[0.0, 1.0, 2.0, 7.0]).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }), "{err}");

    let mixed: Vec<Box<dyn Env>> = vec![Box::new(Walker::new()), Box::new(Grid::new())];
    let err = SyncVectorEnv::new(mixed, AutoresetMode::SameStep).unwrap_err();
    assert!(err.to_string().contains("identical spaces"), "{err}");
    let err = SyncVectorEnv::<Walker>::new(vec![], AutoresetMode::SameStep).unwrap_err();
    assert!(err.to_string().contains("at least one"), "{err}");
}

#[test]
fn boxed_envs_work_in_vector_envs() {
    let envs: Vec<Box<dyn Env>> = (0..N).map(|_| Box::new(walker()) as Box<dyn Env>).collect();
    let venv = SyncVectorEnv::new(envs, AutoresetMode::SameStep).unwrap();
    compare_with_reference(walker, venv, AutoresetMode::SameStep);
}
