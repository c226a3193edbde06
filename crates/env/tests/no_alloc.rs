//! Stepping never allocates: wrappers, `make`'s stack and the synchronous vector env, checked
//! with a counting global allocator. The count is per thread, as in `engram-nn`'s test: the
//! test harness's own threads allocate at any moment (an intermittent failure of CI).

mod common;

use common::{Grid, Walker};
use engram_env::registry::{make, register, EnvSpec, Options};
use engram_env::wrappers::{
    ClipReward, FlattenObservation, Flicker, FramePadding, FrameStack, MaskObservation,
    NormalizeObservation, NormalizeReward, RecordEpisodeStatistics, TimeLimit,
};
use engram_env::{Action, AutoresetMode, Env, EnvError, SyncVectorEnv, VectorEnv};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(|a| a.get());
    f();
    ALLOCATIONS.with(|a| a.get()) - before
}

fn walker_entry(_: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    Ok(Box::new(Walker::new()))
}

#[test]
fn stepping_does_not_allocate() {
    // Everything is built first; only the stepping loops are counted.
    register(EnvSpec::new("NoAllocWalker-v0", walker_entry).with_max_episode_steps(20)).unwrap();
    let mut made = make("NoAllocWalker-v0", &Options::new()).unwrap();
    let mut stacked = RecordEpisodeStatistics::new(
        TimeLimit::new(
            NormalizeReward::new(
                ClipReward::new(
                    NormalizeObservation::new(
                        FrameStack::new(
                            Flicker::new(
                                MaskObservation::new(Walker::new(), vec![1]).unwrap(),
                                0.5,
                            )
                            .unwrap(),
                            4,
                            FramePadding::Reset,
                        )
                        .unwrap(),
                    )
                    .unwrap(),
                    -1.0,
                    1.0,
                )
                .unwrap(),
            )
            .unwrap(),
            20,
        )
        .unwrap(),
    );
    let mut one_hot = FlattenObservation::new(Grid::new()).unwrap();
    let mut venv = SyncVectorEnv::new(
        (0..4)
            .map(|_| make("NoAllocWalker-v0", &Options::new()).unwrap())
            .collect(),
        AutoresetMode::SameStep,
    )
    .unwrap();
    let mut venv_next = SyncVectorEnv::new(
        (0..3).map(|_| Grid::new()).collect(),
        AutoresetMode::NextStep,
    )
    .unwrap();
    let mut obs = vec![0.0f32; 64];
    made.reset(Some(0), &mut obs[..3]).unwrap();
    stacked.reset(Some(0), &mut obs[..12]).unwrap();
    one_hot.reset(Some(0), &mut obs[..15]).unwrap();
    venv.reset(Some(0)).unwrap();
    venv_next.reset(Some(0)).unwrap();
    let actions = [0.0f32, 1.0, 2.0, 1.0];
    let multi = [2.0f32, 2.0, 0.0, 1.0, 1.0, 0.0];

    let count = allocations_during(|| {
        for t in 0..2000usize {
            let a = Action::Discrete((t % 3) as i64);
            if made.step(a, &mut obs[..3]).unwrap().done() {
                made.reset(None, &mut obs[..3]).unwrap();
            }
            if stacked.step(a, &mut obs[..12]).unwrap().done() {
                stacked.reset(None, &mut obs[..12]).unwrap();
            }
            let m = [(t % 3) as i64, ((t / 3) % 3) as i64];
            if one_hot
                .step(Action::MultiDiscrete(&m), &mut obs[..15])
                .unwrap()
                .done()
            {
                one_hot.reset(None, &mut obs[..15]).unwrap();
            }
            venv.step(&actions).unwrap();
            venv_next.step(&multi).unwrap();
        }
    });
    assert_eq!(count, 0, "stepping allocated {count} times");
    // The loop did cover episode ends and autoresets.
    assert!(stacked.episodes_finished() > 10);
}

/// MinAtar's games step without allocating once their entity lists have grown (Seaquest keeps
/// its lists' capacity across resets).
#[test]
fn minatar_stepping_does_not_allocate() {
    for game in [
        "Asterix",
        "Breakout",
        "Freeway",
        "Seaquest",
        "SpaceInvaders",
    ] {
        let mut env = make(&format!("MinAtar/{game}-v0"), &Options::new()).unwrap();
        let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
        env.reset(Some(0), &mut obs).unwrap();
        let mut run = |env: &mut Box<dyn Env>, steps: usize| {
            for t in 0..steps {
                let a = Action::Discrete(((t * 7 + t / 5) % 6) as i64);
                if env.step(a, &mut obs).unwrap().done() {
                    env.reset(None, &mut obs).unwrap();
                }
            }
        };
        run(&mut env, 20_000);
        let count = allocations_during(|| run(&mut env, 5_000));
        assert_eq!(count, 0, "MinAtar/{game} allocated while stepping");
    }
}
