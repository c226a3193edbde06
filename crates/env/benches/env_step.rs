//! Environment stepping throughput: CartPole-v1 as `make` builds it (single env and a
//! SyncVectorEnv of 8), and the cost of the infrastructure itself on a trivial environment.
//!
//! `cargo bench -p engram-env --bench env_step`
//!
//! `*_make`: `make("CartPole-v1")` (a `Box<dyn Env>` under OrderEnforcing and TimeLimit), as
//! users and `engram bench` get it; `*_typed`: the same wrappers over the concrete type.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engram_env::classic_control::CartPole;
use engram_env::registry::{make, Options};
use engram_env::wrappers::{OrderEnforcing, TimeLimit};
use engram_env::{Action, AutoresetMode, Env, EnvError, Space, Step, SyncVectorEnv, VectorEnv};
use std::hint::black_box;

/// Steps per measured iteration.
const STEPS: usize = 10_000;

/// A trivial environment (a counter that ends every 200 steps): what remains is the cost of
/// the wrappers and the vector env.
struct Trivial {
    space: Space,
    t: u32,
}

impl Trivial {
    fn new() -> Self {
        Trivial {
            space: Space::discrete(2),
            t: 0,
        }
    }
}

impl Env for Trivial {
    fn observation_space(&self) -> &Space {
        &self.space
    }
    fn action_space(&self) -> &Space {
        &self.space
    }
    fn reset(&mut self, _: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.t = 0;
        obs[0] = 0.0;
        Ok(())
    }
    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else {
            return Err(EnvError::Other("discrete only".into()));
        };
        self.t += 1;
        obs[0] = (self.t as i64 + a) as f32;
        Ok(Step {
            reward: 1.0,
            terminated: self.t >= 200,
            truncated: false,
        })
    }
}

fn single<E: Env>(env: &mut E, obs: &mut [f32]) {
    for i in 0..STEPS {
        let action = Action::Discrete(((i * 7) >> 2) as i64 & 1);
        if env.step(action, obs).unwrap().done() {
            env.reset(None, obs).unwrap();
        }
    }
}

fn vector<V: VectorEnv>(venv: &mut V, actions: &[f32]) {
    for _ in 0..STEPS / venv.num_envs() {
        venv.step(black_box(actions)).unwrap();
    }
}

fn pattern(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 2) as f32).collect()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("env_step");
    group.throughput(Throughput::Elements(STEPS as u64));

    match make("CartPole-v1", &Options::new()) {
        Ok(mut env) => {
            let mut obs = [0.0f32; 4];
            env.reset(Some(0), &mut obs).unwrap();
            group.bench_function("cartpole_single_make", |b| {
                b.iter(|| single(&mut env, &mut obs))
            });
            let mut venv =
                SyncVectorEnv::make("CartPole-v1", &Options::new(), 8, AutoresetMode::SameStep)
                    .unwrap();
            venv.reset(Some(0)).unwrap();
            let actions = pattern(8);
            group.bench_function("cartpole_vec8_make", |b| {
                b.iter(|| vector(&mut venv, &actions))
            });
        }
        Err(e) => eprintln!("CartPole-v1 benches skipped: {e}"),
    }

    // The same stack with the concrete type: no dynamic dispatch at all.
    let typed = || OrderEnforcing::new(TimeLimit::new(CartPole::default(), 500).unwrap());
    let mut env = typed();
    let mut obs4 = [0.0f32; 4];
    env.reset(Some(0), &mut obs4).unwrap();
    group.bench_function("cartpole_single_typed", |b| {
        b.iter(|| single(&mut env, &mut obs4))
    });
    let mut venv =
        SyncVectorEnv::new((0..8).map(|_| typed()).collect(), AutoresetMode::SameStep).unwrap();
    venv.reset(Some(0)).unwrap();
    let actions = pattern(8);
    group.bench_function("cartpole_vec8_typed", |b| {
        b.iter(|| vector(&mut venv, &actions))
    });

    let mut env = OrderEnforcing::new(TimeLimit::new(Trivial::new(), 500).unwrap());
    let mut obs = [0.0f32];
    env.reset(None, &mut obs).unwrap();
    group.bench_function("trivial_single_wrapped", |b| {
        b.iter(|| single(&mut env, &mut obs))
    });
    let mut boxed: Box<dyn Env> = Box::new(Trivial::new());
    boxed.reset(None, &mut obs).unwrap();
    group.bench_function("trivial_single_boxed_bare", |b| {
        b.iter(|| single(&mut boxed, &mut obs))
    });
    let mut venv = SyncVectorEnv::new(
        (0..8)
            .map(|_| OrderEnforcing::new(TimeLimit::new(Trivial::new(), 500).unwrap()))
            .collect(),
        AutoresetMode::SameStep,
    )
    .unwrap();
    venv.reset(None).unwrap();
    let actions = pattern(8);
    group.bench_function("trivial_vec8_wrapped", |b| {
        b.iter(|| vector(&mut venv, &actions))
    });
    group.finish();
}

criterion_group!(env_step, benches);
criterion_main!(env_step);
