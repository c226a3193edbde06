//! Each wrapper against hand-computed values.

mod common;

use common::{Counter, Grid, Lcg, Walker};
use engram_env::wrappers::{
    ClipReward, FlattenObservation, Flicker, FramePadding, FrameStack, MaskObservation,
    MaskVelocity, NormalizeObservation, NormalizeReward, OneHot, OrderEnforcing,
    RecordEpisodeStatistics, ReturnStatistics, RunningMeanStd, TimeLimit,
};
use engram_env::{Action, Env, EnvError, Space};

#[test]
fn time_limit_truncates_at_the_limit_and_keeps_termination() {
    let mut env = TimeLimit::new(Counter::new(None), 3).unwrap();
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    let flags: Vec<(bool, bool)> = (0..3)
        .map(|_| {
            let s = env.step(Action::Discrete(0), &mut obs).unwrap();
            (s.terminated, s.truncated)
        })
        .collect();
    assert_eq!(flags, [(false, false), (false, false), (false, true)]);
    assert_eq!(env.elapsed_steps(), 3);
    env.reset(None, &mut obs).unwrap();
    assert_eq!(env.elapsed_steps(), 0);
    assert!(!env.step(Action::Discrete(0), &mut obs).unwrap().truncated);

    // Terminating exactly at the limit: both flags, as Gymnasium.
    let mut env = TimeLimit::new(Counter::new(Some(2)), 2).unwrap();
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    let s = env.step(Action::Discrete(0), &mut obs).unwrap();
    assert!(s.terminated && s.truncated);
    assert!(TimeLimit::new(Counter::new(None), 0).is_err());
}

#[test]
fn order_enforcing_rejects_out_of_order_calls_and_bad_actions() {
    let mut env = OrderEnforcing::new(TimeLimit::new(Counter::new(Some(2)), 10).unwrap());
    let mut obs = [0.0];
    assert_eq!(
        env.step(Action::Discrete(0), &mut obs),
        Err(EnvError::NotReset)
    );
    env.reset(Some(0), &mut obs).unwrap();
    let err = env.step(Action::Discrete(2), &mut obs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "action 2 is outside the action space Discrete(2)"
    );
    let err = env.step(Action::Continuous(&[0.0]), &mut obs).unwrap_err();
    assert!(matches!(err, EnvError::InvalidAction { .. }));
    // A rejected action does not advance the env.
    assert_eq!(env.inner().inner().t, 0);
    env.step(Action::Discrete(1), &mut obs).unwrap();
    assert!(env.step(Action::Discrete(1), &mut obs).unwrap().terminated);
    let err = env.step(Action::Discrete(1), &mut obs).unwrap_err();
    assert_eq!(err, EnvError::NeedsReset);
    assert!(err.to_string().contains("call reset() first"));
    env.reset(None, &mut obs).unwrap();
    assert!(env.step(Action::Discrete(1), &mut obs).is_ok());
}

#[test]
fn record_episode_statistics_sums_rewards_and_counts_steps() {
    let mut env = RecordEpisodeStatistics::new(TimeLimit::new(Counter::new(None), 4).unwrap());
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    assert_eq!(env.last_episode(), None);
    for _ in 0..3 {
        env.step(Action::Discrete(0), &mut obs).unwrap();
        assert_eq!(env.finished_episode(), None);
    }
    assert_eq!(env.current_return(), 6.0);
    env.step(Action::Discrete(0), &mut obs).unwrap();
    let stats = env.finished_episode().unwrap();
    assert_eq!((stats.episode_return, stats.length), (10.0, 4)); // 1 + 2 + 3 + 4
    assert_eq!(env.episodes_finished(), 1);
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(env.finished_episode(), None);
    assert_eq!(env.last_episode(), Some(stats));
}

#[test]
fn clip_reward_clips() {
    let mut env = ClipReward::new(Counter::new(None), -1.0, 2.5).unwrap();
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    let rewards: Vec<f64> = (0..4)
        .map(|_| env.step(Action::Discrete(0), &mut obs).unwrap().reward)
        .collect();
    assert_eq!(rewards, [1.0, 2.0, 2.5, 2.5]);
    assert!(ClipReward::new(Counter::new(None), 1.0, -1.0).is_err());
}

#[test]
fn running_mean_std_matches_the_closed_form() {
    // With pseudo-count c = 1e-4 at mean 0 / var 1, after samples x_1..x_n:
    // mean = sum(x) / (n + c), var = (c * 1 + sum((x - mean)^2) + c * mean^2) / (n + c).
    let xs = [1.0f32, 2.0, 4.0, -3.0, 0.5];
    let mut rms = RunningMeanStd::new(1);
    for &x in &xs {
        rms.update_one(&[x]);
    }
    let c = 1e-4;
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / (n + c);
    let m2 = c + xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() + c * mean * mean;
    assert!(
        (rms.mean[0] - mean).abs() < 1e-12,
        "{} vs {mean}",
        rms.mean[0]
    );
    assert!((rms.var[0] - m2 / (n + c)).abs() < 1e-12);
    assert!((rms.count - (n + c)).abs() < 1e-12);

    let mut batch = RunningMeanStd::new(1);
    batch.update_batch(&xs);
    assert!((batch.mean[0] - rms.mean[0]).abs() < 1e-12);
    assert!((batch.var[0] - rms.var[0]).abs() < 1e-12);
}

#[test]
fn normalize_observation_uses_running_statistics_and_can_be_frozen_and_restored() {
    let mut env = NormalizeObservation::new(Counter::new(None)).unwrap();
    assert_eq!(
        env.observation_space(),
        &Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &[1])
    );
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    let mut seen = vec![0.0f32];
    for _ in 0..5 {
        env.step(Action::Discrete(0), &mut obs).unwrap();
        seen.push(seen.len() as f32);
        let mut rms = RunningMeanStd::new(1);
        for &x in &seen {
            rms.update_one(&[x]);
        }
        let expected = (*seen.last().unwrap() as f64 - rms.mean[0]) / (rms.var[0] + 1e-8).sqrt();
        assert_eq!(obs[0], expected as f32);
    }
    // Checkpoint round trip through JSON.
    let saved = serde_json::to_string(env.statistics()).unwrap();
    let restored: RunningMeanStd = serde_json::from_str(&saved).unwrap();
    assert_eq!(&restored, env.statistics());

    // Frozen: statistics stay, the same raw observation normalises the same way twice.
    env.set_update_running_mean(false);
    let before = env.statistics().clone();
    env.reset(None, &mut obs).unwrap();
    let first = obs[0];
    env.reset(None, &mut obs).unwrap();
    assert_eq!(obs[0], first);
    assert_eq!(env.statistics(), &before);

    // A fresh wrapper given the saved statistics normalises exactly like the original.
    let mut fresh = NormalizeObservation::new(Counter::new(None)).unwrap();
    fresh.set_statistics(restored).unwrap();
    fresh.set_update_running_mean(false);
    let mut obs2 = [0.0];
    fresh.reset(None, &mut obs2).unwrap();
    assert_eq!(obs2[0], first);
    assert!(fresh.set_statistics(RunningMeanStd::new(3)).is_err());
    assert!(NormalizeObservation::new(Grid::new()).is_err());
}

#[test]
fn normalize_reward_follows_gymnasium_discounted_return_rule() {
    // Counter terminates at step 3: rewards 1, 2, 3 | then after reset 1, 2 ...
    let (gamma, eps) = (0.9, 1e-8);
    let mut env = NormalizeReward::with_params(Counter::new(Some(3)), gamma, eps).unwrap();
    let mut obs = [0.0];
    let mut g = 0.0;
    let mut rms = RunningMeanStd::new(1);
    for episode in 0..3 {
        env.reset(None, &mut obs).unwrap();
        for t in 1..=3u32 {
            let s = env.step(Action::Discrete(0), &mut obs).unwrap();
            let r = t as f64;
            // Gymnasium: G <- G * gamma * (1 - terminated) + r, with this step's flag.
            let keep = if s.terminated { 0.0 } else { 1.0 };
            g = g * gamma * keep + r;
            rms.update_scalar(g);
            let expected = r / (rms.var[0] + eps).sqrt();
            assert!(
                (s.reward - expected).abs() < 1e-12,
                "episode {episode} t {t}"
            );
            assert_eq!(s.terminated, t == 3);
        }
    }
    // Terminal step: the return restarts from that step's reward.
    assert_eq!(env.statistics().discounted_return, 3.0);
    let saved: ReturnStatistics =
        serde_json::from_str(&serde_json::to_string(env.statistics()).unwrap()).unwrap();
    assert_eq!(&saved, env.statistics());
    env.set_update_running_mean(false);
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(env.statistics().return_rms, saved.return_rms);
    assert!(NormalizeReward::with_params(Counter::new(None), 1.5, 1e-8).is_err());
}

#[test]
fn normalize_reward_does_not_clear_the_return_on_truncation() {
    let mut env =
        NormalizeReward::with_params(TimeLimit::new(Counter::new(None), 2).unwrap(), 0.5, 1e-8)
            .unwrap();
    let mut obs = [0.0];
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap(); // G = 1
    assert!(env.step(Action::Discrete(0), &mut obs).unwrap().truncated); // G = 0.5 + 2
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap(); // G = 1.25 + 1
    assert_eq!(env.statistics().discounted_return, 2.25);
}

#[test]
fn flatten_reshapes_boxes_and_one_hot_encodes_discrete_parts() {
    let mut env = OneHot::new(Grid::new()).unwrap();
    // Discrete(7, start=-3) -> 7, MultiDiscrete([7]) -> 7, Box(1) -> 1.
    assert_eq!(env.observation_space().flat_dim(), 15);
    let mut raw_env = Grid::new();
    let (mut obs, mut raw) = ([0.0f32; 15], [0.0f32; 3]);
    env.reset(Some(4), &mut obs).unwrap();
    raw_env.reset(Some(4), &mut raw).unwrap();
    let mut lcg = Lcg(0);
    for _ in 0..30 {
        let x = raw[0] as i64 + 3;
        let y = raw[1] as usize;
        let mut expected = [0.0f32; 15];
        expected[x as usize] = 1.0;
        expected[7 + y] = 1.0;
        expected[14] = raw[2];
        assert_eq!(obs, expected);
        let a = [(lcg.next() % 3) as i64, (lcg.next() % 3) as i64];
        let s = env.step(Action::MultiDiscrete(&a), &mut obs).unwrap();
        raw_env.step(Action::MultiDiscrete(&a), &mut raw).unwrap();
        if s.done() {
            env.reset(None, &mut obs).unwrap();
            raw_env.reset(None, &mut raw).unwrap();
        }
    }

    // A Box of any shape becomes 1-D with the same values.
    struct Image(Space);
    impl Env for Image {
        fn observation_space(&self) -> &Space {
            &self.0
        }
        fn action_space(&self) -> &Space {
            &self.0
        }
        fn reset(&mut self, _: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
            for (i, o) in obs.iter_mut().enumerate() {
                *o = i as f32;
            }
            Ok(())
        }
        fn step(&mut self, _: Action<'_>, _: &mut [f32]) -> Result<engram_env::Step, EnvError> {
            Ok(Default::default())
        }
    }
    let mut flat = FlattenObservation::new(Image(Space::uniform_box(0.0, 9.0, &[2, 3]))).unwrap();
    assert_eq!(
        flat.observation_space(),
        &Space::uniform_box(0.0, 9.0, &[6])
    );
    let mut obs = [0.0; 6];
    flat.reset(None, &mut obs).unwrap();
    assert_eq!(obs, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);

    // An observation outside its space is reported, not encoded out of bounds.
    let mut bad = OneHot::new(Image(Space::discrete(3))).unwrap();
    let mut obs = [0.0; 3];
    assert!(bad.reset(None, &mut obs).is_ok()); // value 0
    let mut bad = OneHot::new(Image(Space::MultiDiscrete { nvec: vec![2, 1] })).unwrap();
    let err = bad.reset(None, &mut obs).unwrap_err(); // values 0, 1: 1 is outside {0}
    assert!(err.to_string().contains("outside"), "{err}");
}

#[test]
fn frame_stack_keeps_the_last_k_observations_oldest_first() {
    let mut env = FrameStack::new(Counter::new(None), 3, FramePadding::Zero).unwrap();
    assert_eq!(
        env.observation_space(),
        &Space::Box {
            low: vec![0.0; 3],
            high: vec![1e6; 3],
            shape: vec![3, 1]
        }
    );
    let mut obs = [9.0; 3];
    env.reset(None, &mut obs).unwrap();
    assert_eq!(obs, [0.0, 0.0, 0.0]);
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(obs, [0.0, 0.0, 1.0]);
    env.step(Action::Discrete(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    assert_eq!(obs, [2.0, 3.0, 4.0]);

    // Reset padding repeats the first observation; a stacked Walker shows it.
    let mut env = FrameStack::new(Walker::new(), 2, FramePadding::Reset).unwrap();
    let mut obs = [0.0; 6];
    env.reset(Some(1), &mut obs).unwrap();
    assert_eq!(obs[..3], obs[3..]);
    let first = obs;
    env.step(Action::Discrete(2), &mut obs).unwrap();
    assert_eq!(obs[..3], first[3..]);
    assert_eq!(obs[4], 1.0); // the step counter of the newest frame

    // Non-Box spaces stack as a Tuple.
    let env = FrameStack::new(Grid::new(), 2, FramePadding::Zero).unwrap();
    assert!(matches!(env.observation_space(), Space::Tuple(p) if p.len() == 2));
    assert!(FrameStack::new(Counter::new(None), 0, FramePadding::Zero).is_err());
}

#[test]
fn mask_velocity_zeroes_the_velocities_only() {
    let mut masked = MaskObservation::new(Walker::new(), vec![1]).unwrap();
    let mut plain = Walker::new();
    let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
    masked.reset(Some(2), &mut a).unwrap();
    plain.reset(Some(2), &mut b).unwrap();
    for _ in 0..5 {
        assert_eq!([a[0], a[1], a[2]], [b[0], 0.0, b[2]]);
        masked.step(Action::Discrete(1), &mut a).unwrap();
        plain.step(Action::Discrete(1), &mut b).unwrap();
    }
    let err = MaskObservation::new(Walker::new(), vec![3]).unwrap_err();
    assert!(err.to_string().contains("index 3"), "{err}");
    assert_eq!(
        MaskVelocity::velocity(FourBox, "CartPole-v1")
            .unwrap()
            .indices(),
        &[1, 3]
    );
    assert!(MaskVelocity::velocity(FourBox, "Taxi-v3").is_err());
}

/// Any env with a Box(4) observation.
struct FourBox;
impl Env for FourBox {
    fn observation_space(&self) -> &Space {
        static SPACE: std::sync::OnceLock<Space> = std::sync::OnceLock::new();
        SPACE.get_or_init(|| Space::uniform_box(-1.0, 1.0, &[4]))
    }
    fn action_space(&self) -> &Space {
        self.observation_space()
    }
    fn reset(&mut self, _: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        obs.fill(1.0);
        Ok(())
    }
    fn step(&mut self, _: Action<'_>, obs: &mut [f32]) -> Result<engram_env::Step, EnvError> {
        obs.fill(1.0);
        Ok(Default::default())
    }
}

#[test]
fn flicker_is_seeded_and_zeroes_with_probability_p() {
    let pattern = |seed: u64| -> Vec<bool> {
        let mut env = Flicker::new(FourBox, 0.5).unwrap();
        let mut obs = [0.0; 4];
        env.reset(Some(seed), &mut obs).unwrap();
        let mut zeroed = vec![obs == [0.0; 4]];
        for _ in 0..2000 {
            env.step(Action::Discrete(0), &mut obs).unwrap();
            assert!(obs == [0.0; 4] || obs == [1.0; 4]);
            zeroed.push(obs == [0.0; 4]);
        }
        zeroed
    };
    let a = pattern(7);
    assert_eq!(a, pattern(7), "same seed, same flicker");
    // numpy's draws: `np.random.default_rng(7).random() < 0.5`, once per observation.
    let mut numpy = engram_env::EnvRng::new(7);
    let expected: Vec<bool> = (0..a.len()).map(|_| numpy.random() < 0.5).collect();
    assert_eq!(a, expected);
    assert_ne!(a, pattern(8));
    let rate = a.iter().filter(|&&z| z).count() as f64 / a.len() as f64;
    assert!((rate - 0.5).abs() < 0.05, "flicker rate {rate}");

    // The wrapped env's own random stream is untouched: unflickered observations equal the
    // plain env's.
    let mut flick = Flicker::new(Walker::new(), 0.3).unwrap();
    let mut plain = Walker::new();
    let (mut x, mut y) = ([0.0; 3], [0.0; 3]);
    flick.reset(Some(3), &mut x).unwrap();
    plain.reset(Some(3), &mut y).unwrap();
    let mut zeroed = 0;
    for _ in 0..100 {
        if x == [0.0; 3] {
            zeroed += 1;
        } else {
            assert_eq!(x, y);
        }
        let s = flick.step(Action::Discrete(1), &mut x).unwrap();
        plain.step(Action::Discrete(1), &mut y).unwrap();
        assert!(!s.done());
    }
    assert!(zeroed > 10);
    assert!(Flicker::new(FourBox, 1.5).is_err());
}

#[test]
fn wrappers_compose_over_boxed_envs() {
    let boxed: Box<dyn Env> = Box::new(Walker::new());
    let mut env = RecordEpisodeStatistics::new(OrderEnforcing::new(
        TimeLimit::new(ClipReward::new(boxed, -0.5, 0.5).unwrap(), 5).unwrap(),
    ));
    let mut obs = [0.0; 3];
    env.reset(Some(0), &mut obs).unwrap();
    let mut total = 0.0;
    loop {
        let s = env.step(Action::Discrete(1), &mut obs).unwrap();
        assert!(s.reward.abs() <= 0.5);
        total += s.reward;
        if s.done() {
            break;
        }
    }
    assert_eq!(env.last_episode().unwrap().length, 5);
    assert_eq!(env.last_episode().unwrap().episode_return, total);
    // state() is forwarded through every layer.
    assert_eq!(env.state(), Some(vec![obs[0] as f64, 5.0]));
}
