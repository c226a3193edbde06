//! `engram bench`: the workloads engram is measured on, as a library.
//!
//! The same [`Workload`]s back the criterion benchmark (`cargo bench -p engram --bench nn`)
//! and the `engram bench` command, so a figure in BENCHMARKS.md and a figure measured by a
//! user on their own machine come from the same code. Later workloads (environment stepping,
//! training throughput) are added as more `Workload`s with rates such as `steps_per_second`.
//!
//! The network workloads follow the A3C update the project is judged on: observations of
//! 4 floats -> recurrent core -> policy logits for 2 actions and a value; `T = 20` steps;
//! policy-gradient + value + entropy loss; backprop through time; one Adam step.
//!
//! The workloads are fixed and built in (no user input reaches them), so their setup may
//! `expect`: a failure is a broken workload, which `every_workload_runs...` catches in CI.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use engram_nn::dist::Categorical;
use engram_nn::loss::{entropy_bonus, policy_gradient_loss, value_mse_loss, Reduction};
use engram_nn::optim::{Adam, AdamConfig, Optimizer};
use engram_nn::{
    Activation, Init, Network, NetworkConfig, NetworkStepScratch, NetworkTape, ParamLayout,
    RecurrentState,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Something to time: `build` makes a fresh instance (all allocation happens there); calling
/// the instance once is one iteration.
pub struct Workload {
    pub name: String,
    pub description: String,
    /// `(unit, units per iteration)`: reported as `{unit}_per_second` in [`BenchResult::extra`].
    pub rates: Vec<(String, f64)>,
    build: Box<dyn Fn() -> Box<dyn FnMut()>>,
}

impl Workload {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        build: impl Fn() -> Box<dyn FnMut()> + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            rates: Vec::new(),
            build: Box::new(build),
        }
    }

    /// Adds a throughput figure: `per_iteration` units (e.g. environment steps) per iteration.
    pub fn with_rate(mut self, unit: &str, per_iteration: f64) -> Self {
        self.rates.push((unit.to_string(), per_iteration));
        self
    }

    /// A fresh, ready-to-run instance.
    pub fn instantiate(&self) -> Box<dyn FnMut()> {
        (self.build)()
    }
}

/// One workload's timing.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    pub name: String,
    pub median_us: f64,
    pub min_us: f64,
    pub iterations: usize,
    /// Derived figures, e.g. `("samples_per_second", 1.2e6)`.
    pub extra: Vec<(String, f64)>,
}

impl BenchResult {
    /// One JSON object on one line: `name`, `median_us`, `min_us`, `iterations`, then the extras.
    pub fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("median_us".into(), round3(self.median_us).into());
        m.insert("min_us".into(), round3(self.min_us).into());
        m.insert("iterations".into(), self.iterations.into());
        for (k, v) in &self.extra {
            m.insert(k.clone(), round3(*v).into());
        }
        serde_json::Value::Object(m).to_string()
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A plain-text table of results.
pub fn format_table(results: &[BenchResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(8);
    let mut s = format!(
        "{:<width$}  {:>12}  {:>12}  {:>10}  extra\n",
        "workload", "median_us", "min_us", "iters"
    );
    for r in results {
        let extra: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k}={v:.0}")).collect();
        s.push_str(&format!(
            "{:<width$}  {:>12.2}  {:>12.2}  {:>10}  {}\n",
            r.name,
            r.median_us,
            r.min_us,
            r.iterations,
            extra.join(" ")
        ));
    }
    s
}

/// Times `w` for about `budget`: a warm-up, then samples of enough iterations to last at least
/// ~50 us each (so the clock's resolution does not matter); reports per-iteration median and
/// minimum over the samples.
pub fn measure(w: &Workload, budget: Duration) -> BenchResult {
    let mut f = w.instantiate();
    // Warm-up: caches, branch predictors, CPU frequency; also estimates the iteration time.
    let warm = budget / 10;
    let start = Instant::now();
    let mut n = 0u64;
    while n < 3 || start.elapsed() < warm {
        f();
        n += 1;
    }
    let per_iter = start.elapsed().as_secs_f64() / n as f64;
    let reps = ((50e-6 / per_iter).ceil() as u64).max(1);
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 100_000) {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / reps as f64);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let median_us = samples[samples.len() / 2];
    let extra = w
        .rates
        .iter()
        .map(|(unit, k)| (format!("{unit}_per_second"), k / (median_us * 1e-6)))
        .collect();
    BenchResult {
        name: w.name.clone(),
        median_us,
        min_us: samples[0],
        iterations: samples.len() * reps as usize,
        extra,
    }
}

/// Runs every workload whose name contains `filter` (all without one). `quick` gives about
/// 10 s for the whole network set; otherwise about 3 s per workload.
pub fn run(filter: Option<&str>, quick: bool) -> Vec<BenchResult> {
    run_workloads(&nn_workloads(), filter, quick)
}

pub fn run_workloads(
    workloads: &[Workload],
    filter: Option<&str>,
    quick: bool,
) -> Vec<BenchResult> {
    let budget = if quick {
        Duration::from_millis(700)
    } else {
        Duration::from_secs(3)
    };
    workloads
        .iter()
        .filter(|w| match filter {
            Some(f) => w.name.contains(f),
            None => true,
        })
        .map(|w| measure(w, budget))
        .collect()
}

/// The recurrent core (or none) of a network workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Core {
    Lstm(usize),
    Gru(usize),
    /// An MLP torso of two layers of this width (tanh), no recurrence.
    Mlp(usize),
}

/// Observation size, actions and rollout length of the A3C workload.
pub const OBS: usize = 4;
pub const ACTIONS: usize = 2;
pub const STEPS: usize = 20;

/// The actor-critic of the workloads: `obs 4 -> core -> (policy logits 2, value 1)`.
pub fn actor_critic(core: Core) -> (Network, ParamLayout) {
    let mut config = NetworkConfig::new(OBS)
        .head("policy", ACTIONS, Init::NormalizedColumns { std: 0.01 })
        .head("value", 1, Init::NormalizedColumns { std: 1.0 });
    config = match core {
        Core::Lstm(h) => config.lstm(h),
        Core::Gru(h) => config.gru(h),
        Core::Mlp(h) => config.encoder(
            &[h, h],
            Activation::Tanh,
            Init::Orthogonal { gain: 2f32.sqrt() },
        ),
    };
    let mut layout = ParamLayout::new();
    let net = Network::new(&mut layout, "", &config).expect("workload network is valid");
    (net, layout)
}

/// One A3C/A2C update over a fixed rollout, with every buffer preallocated.
pub struct A3cUpdate {
    net: Network,
    batch: usize,
    params: Vec<f32>,
    grads: Vec<f32>,
    optimizer: Adam,
    tape: NetworkTape,
    initial: RecurrentState,
    state: RecurrentState,
    obs: Vec<f32>,
    starts: Vec<bool>,
    actions: Vec<usize>,
    returns: Vec<f32>,
    log_probs: Vec<f32>,
    taken: Vec<f32>,
    entropy: Vec<f32>,
    advantages: Vec<f32>,
    d_taken: Vec<f32>,
    d_entropy: Vec<f32>,
    d_logits: Vec<f32>,
    d_values: Vec<f32>,
}

/// Loss weights of the workload (the A3C paper's entropy weight; value weight 0.5).
pub const VALUE_COEF: f32 = 0.5;
pub const ENTROPY_COEF: f32 = 0.01;
pub const LEARNING_RATE: f32 = 1e-4;

impl A3cUpdate {
    pub fn new(core: Core, batch: usize, seed: u64) -> Self {
        let (net, layout) = actor_critic(core);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = layout.initialize(&mut rng);
        let rows = STEPS * batch;
        let obs = (0..rows * OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
        // One episode boundary in the middle of the rollout for every row.
        let mut starts = vec![false; rows];
        for b in 0..batch {
            starts[(STEPS / 2) * batch + b] = true;
        }
        let actions = (0..rows).map(|_| rng.gen_range(0..ACTIONS)).collect();
        let returns = (0..rows).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let initial = net.initial_state(batch);
        Self {
            tape: net.tape(STEPS, batch),
            state: initial.clone(),
            initial,
            grads: layout.zeros(),
            optimizer: Adam::new(AdamConfig::default(), layout.len()),
            params,
            net,
            batch,
            obs,
            starts,
            actions,
            returns,
            log_probs: vec![0.0; rows * ACTIONS],
            taken: vec![0.0; rows],
            entropy: vec![0.0; rows],
            advantages: vec![0.0; rows],
            d_taken: vec![0.0; rows],
            d_entropy: vec![0.0; rows],
            d_logits: vec![0.0; rows * ACTIONS],
            d_values: vec![0.0; rows],
        }
    }

    /// Forward over the rollout, losses, backward through time, Adam step. Returns the
    /// policy-gradient, value and entropy-bonus losses (before the step).
    pub fn update(&mut self) -> [f32; 3] {
        let cat = Categorical::new(ACTIONS);
        self.grads.fill(0.0);
        self.state.copy_from(&self.initial);
        self.net.forward_seq(
            &self.params,
            &self.obs,
            STEPS,
            Some(&self.starts),
            &mut self.state,
            &mut self.tape,
        );
        let logits = self.tape.head(0);
        let values = self.tape.head(1);
        cat.log_softmax(logits, None, &mut self.log_probs);
        cat.log_prob(&self.log_probs, &self.actions, &mut self.taken);
        cat.entropy(&self.log_probs, &mut self.entropy);
        for ((a, &r), &v) in self.advantages.iter_mut().zip(&self.returns).zip(values) {
            *a = r - v;
        }
        // Sums over the rollout, as the original A3C.
        let pg = policy_gradient_loss(
            &self.taken,
            &self.advantages,
            Reduction::Sum,
            &mut self.d_taken,
        );
        let vf = value_mse_loss(values, &self.returns, Reduction::Sum, &mut self.d_values);
        let ent = entropy_bonus(&self.entropy, Reduction::Sum, &mut self.d_entropy);
        self.d_values.iter_mut().for_each(|d| *d *= VALUE_COEF);
        self.d_entropy.iter_mut().for_each(|d| *d *= ENTROPY_COEF);
        cat.backward(
            &self.log_probs,
            &self.actions,
            &self.d_taken,
            &self.d_entropy,
            &mut self.d_logits,
        );
        self.net.backward_seq(
            &self.params,
            &mut self.grads,
            &self.obs,
            &[&self.d_logits, &self.d_values],
            &mut self.tape,
            None,
            None,
        );
        self.optimizer
            .step(&mut self.params, &self.grads, LEARNING_RATE);
        [pg, vf, ent]
    }

    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// One acting step (`batch` rows): core step + heads, no allocation.
pub struct ActStep {
    net: Network,
    params: Vec<f32>,
    scratch: NetworkStepScratch,
    state: RecurrentState,
    obs: Vec<f32>,
}

impl ActStep {
    pub fn new(core: Core, batch: usize, seed: u64) -> Self {
        let (net, layout) = actor_critic(core);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = layout.initialize(&mut rng);
        let obs = (0..batch * OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
        Self {
            scratch: net.step_scratch(batch),
            state: net.initial_state(batch),
            params,
            net,
            obs,
        }
    }

    /// One step; returns the first policy logit (to keep the work observable).
    pub fn step(&mut self) -> f32 {
        self.net
            .step(&self.params, &self.obs, &mut self.state, &mut self.scratch);
        self.scratch.head(0)[0]
    }
}

fn update_workload(name: &str, core: Core, batch: usize) -> Workload {
    Workload::new(
        name,
        format!("A3C update: obs {OBS} -> {core:?} -> logits {ACTIONS} + value, T={STEPS}, B={batch}, Adam"),
        move || {
            let mut u = A3cUpdate::new(core, batch, 0);
            Box::new(move || {
                black_box(u.update());
            })
        },
    )
    .with_rate("samples", (STEPS * batch) as f64)
}

fn act_workload(name: &str, core: Core) -> Workload {
    Workload::new(
        name,
        format!("acting step: obs {OBS} -> {core:?} -> logits {ACTIONS} + value, B=1"),
        move || {
            let mut a = ActStep::new(core, 1, 0);
            Box::new(move || {
                black_box(a.step());
            })
        },
    )
    .with_rate("steps", 1.0)
}

/// The numerical-core workloads, in the order they are reported.
pub fn nn_workloads() -> Vec<Workload> {
    vec![
        update_workload("a3c_update_lstm64_b1", Core::Lstm(64), 1),
        act_workload("act_lstm64", Core::Lstm(64)),
        update_workload("update_lstm128_b16", Core::Lstm(128), 16),
        update_workload("update_lstm256_b64", Core::Lstm(256), 64),
        update_workload("a3c_update_gru64_b1", Core::Gru(64), 1),
        act_workload("act_gru64", Core::Gru(64)),
        update_workload("update_gru128_b16", Core::Gru(128), 16),
        update_workload("a3c_update_mlp64x2_b1", Core::Mlp(64), 1),
        act_workload("act_mlp64x2", Core::Mlp(64)),
        update_workload("update_mlp64x2_b16", Core::Mlp(64), 16),
    ]
}

/// `gemm_64x256x256_*`: the three products of a 256-wide layer at batch 64 (forward `X W^T`,
/// input gradient `dY W`, weight gradient `dY^T X`), and `gemm_1024`: a large square product,
/// which shows the machine's single-core sgemm ceiling. Rates are FLOP per second.
pub fn gemm_workloads() -> Vec<Workload> {
    use engram_nn::kernels::{gemm, Trans};
    let product =
        |name: &str, doc: &str, ta: Trans, tb: Trans, (m, n, k): (usize, usize, usize)| {
            let name = name.to_string();
            Workload::new(&name, doc, move || {
                let mut rng = ChaCha8Rng::seed_from_u64(5);
                let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let mut c = vec![0.0f32; m * n];
                let lda = if ta == Trans::No { k } else { m };
                let ldb = if tb == Trans::No { n } else { k };
                Box::new(move || {
                    gemm(ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, n);
                    black_box(&c);
                })
            })
            .with_rate("flop", 2.0 * (m * n * k) as f64)
        };
    vec![
        product(
            "gemm_64x256x256_forward",
            "C[64x256] = X[64x256] W^T",
            Trans::No,
            Trans::Yes,
            (64, 256, 256),
        ),
        product(
            "gemm_64x256x256_input_grad",
            "dX[64x256] = dY[64x256] W",
            Trans::No,
            Trans::No,
            (64, 256, 256),
        ),
        product(
            "gemm_64x256x256_weight_grad",
            "dW[256x256] = dY^T[256x64] X[64x256]",
            Trans::Yes,
            Trans::No,
            (256, 256, 64),
        ),
        product(
            "gemm_1024",
            "C = A B, 1024 x 1024 x 1024: the single-core ceiling",
            Trans::No,
            Trans::No,
            (1024, 1024, 1024),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Off-policy: a DQN gradient step and replay sampling

/// A replay buffer of `len` random CartPole-sized transitions (1 env).
fn random_replay(len: usize, rng: &mut ChaCha8Rng) -> crate::offpolicy::replay::ReplayBuffer {
    let mut buffer = crate::offpolicy::replay::ReplayBuffer::new(len, 1, OBS, 1)
        .expect("a small replay buffer fits");
    for _ in 0..len {
        let obs: Vec<f32> = (0..OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let next: Vec<f32> = (0..OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let action = [rng.gen_range(0..ACTIONS) as f32];
        let done = [rng.gen::<f64>() < 0.05];
        buffer.add(&obs, &next, &action, &[rng.gen()], &done, &[false]);
    }
    buffer
}

/// `dqn_update_mlp256_b64`: one DQN gradient step as SB3 takes it (target max over the next
/// observations, Q(s, a), Huber, backward, norm clip 10, Adam) on rl-zoo's CartPole network,
/// [256, 256] ReLU, batch 64 sampled uniformly from a 10k replay buffer.
pub fn dqn_workloads() -> Vec<Workload> {
    use crate::agent::QNetwork;
    use crate::algos::dqn::{td_loss, Config, Passes};
    use crate::config::{Activation as NetActivation, NetConfig, PolicyKind};
    use crate::offpolicy::prioritized::PrioritizedSampler;
    use crate::offpolicy::replay::Batch;
    use engram_env::Space;
    const BATCH: usize = 64;
    let update = Workload::new(
        "dqn_update_mlp256_b64",
        "DQN gradient step: target + online forward, Huber, backward, clip, Adam; [256, 256] ReLU, B=64",
        || {
            let net = NetConfig {
                policy: PolicyKind::Mlp,
                encoder_layers: vec![256, 256],
                activation: NetActivation::Relu,
                ortho_init: false,
                ..NetConfig::default()
            };
            let obs = Space::Box {
                low: vec![-1.0; OBS],
                high: vec![1.0; OBS],
                shape: vec![OBS],
            };
            let q = QNetwork::new(
                &obs,
                &Space::Discrete {
                    n: ACTIONS as u64,
                    start: 0,
                },
                &net,
                false,
            )
            .expect("the bench network builds");
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut params = q.layout.initialize(&mut rng);
            let target = params.clone();
            let buffer = random_replay(10_000, &mut rng);
            let config = Config::default();
            let mut opt = Adam::new(AdamConfig::default(), params.len());
            let (mut online, mut online_next, mut target_next) =
                (q.pass(BATCH), q.pass(BATCH), q.pass(BATCH));
            let mut batch = Batch::new(BATCH, OBS, 1);
            let (mut best, mut td, mut d_q) =
                (vec![0; BATCH], vec![0.0; BATCH], vec![0.0; BATCH * ACTIONS]);
            let mut grads = q.layout.zeros();
            let weights = vec![1.0; BATCH];
            Box::new(move || {
                buffer.sample_uniform(BATCH, 1, 0.99, &mut rng, &mut batch);
                let loss = td_loss(
                    &q,
                    &config,
                    &params,
                    &target,
                    &batch,
                    &weights,
                    Passes {
                        online: &mut online,
                        online_next: &mut online_next,
                        target_next: &mut target_next,
                    },
                    &mut best,
                    &mut td,
                    &mut d_q,
                );
                grads.fill(0.0);
                q.backward(&params, &mut grads, &batch.obs, &mut online, &d_q);
                engram_nn::optim::clip_grad_norm(&mut grads, 10.0);
                opt.step(&mut params, &grads, 1e-4);
                black_box(loss);
            })
        },
    )
    .with_rate("samples", BATCH as f64);
    let uniform = Workload::new(
        "replay_sample_b64_uniform",
        "64 transitions sampled uniformly from a full 100k replay buffer (CartPole-sized)",
        || {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let buffer = random_replay(100_000, &mut rng);
            let mut batch = Batch::new(BATCH, OBS, 1);
            Box::new(move || {
                buffer.sample_uniform(BATCH, 1, 0.99, &mut rng, &mut batch);
                black_box(&batch.rewards);
            })
        },
    )
    .with_rate("samples", BATCH as f64);
    let prioritized = Workload::new(
        "replay_sample_b64_prioritized",
        "64 transitions drawn by priority (sum-tree, stratified) from a full 100k buffer, gathered, priorities updated",
        || {
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let buffer = random_replay(100_000, &mut rng);
            let mut per = PrioritizedSampler::new(buffer.capacity(), 0.6, 1e-6)
                .expect("a valid sampler");
            per.on_add(0..buffer.len());
            let mut batch = Batch::new(BATCH, OBS, 1);
            let mut weights = Vec::with_capacity(BATCH);
            let td: Vec<f32> = (0..BATCH).map(|_| rng.gen_range(-2.0..2.0)).collect();
            Box::new(move || {
                per.sample(
                    BATCH,
                    buffer.len(),
                    0.4,
                    &mut rng,
                    &mut batch.indices,
                    &mut weights,
                );
                buffer.fill(1, 0.99, &mut batch);
                per.update_priorities(&batch.indices, &td);
                black_box(&batch.rewards);
            })
        },
    )
    .with_rate("samples", BATCH as f64);
    vec![update, uniform, prioritized]
}

/// `r2d2_update_lstm64_b32_t80`: one R2D2 gradient step with the paper's sequence shape: 32
/// sequences of 80 steps (+ the bootstrap observation) drawn by priority from 1,000 stored
/// ones, each from its stored state: target pass over 81 steps, online burn-in of 40 steps
/// without gradient, online pass over the other 41 with BPTT, 5-step double-Q targets under
/// value rescaling, Huber, priorities back, norm clip 10, Adam. Encoder 64 ReLU, LSTM 64,
/// dueling heads; CartPole-sized observations. `bench/torch_reference.py` does the same.
pub fn r2d2_workloads() -> Vec<Workload> {
    use crate::agent::QNetwork;
    use crate::algos::r2d2::{Config, Learner};
    use crate::config::{Activation as NetActivation, NetConfig, PolicyKind};
    use crate::offpolicy::prioritized::PrioritizedSampler;
    use crate::offpolicy::sequence_replay::{SequenceBatch, SequenceReplay};
    use engram_env::Space;
    const BATCH: usize = 32;
    const LENGTH: usize = 80;
    let update = Workload::new(
        "r2d2_update_lstm64_b32_t80",
        "R2D2 gradient step: 32 sequences x 80 steps, burn-in 40, target + online LSTM-64 passes, BPTT, 5-step double Q, Adam",
        || {
            let net = NetConfig {
                policy: PolicyKind::Lstm,
                hidden_size: 64,
                encoder_layers: vec![64],
                activation: NetActivation::Relu,
                ..NetConfig::default()
            };
            let obs = Space::Box {
                low: vec![-1.0; OBS],
                high: vec![1.0; OBS],
                shape: vec![OBS],
            };
            let actions = Space::Discrete {
                n: ACTIONS as u64,
                start: 0,
            };
            let q = QNetwork::recurrent(&obs, &actions, &net, true).expect("the bench network builds");
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut params = q.layout.initialize(&mut rng);
            let target = params.clone();
            let config = Config {
                batch_size: BATCH,
                ..Config::default()
            };
            let sd = q.state_size();
            // One long episode: every stored sequence continues it (burn-in applies to all).
            let mut replay = SequenceReplay::new(1000, 1, LENGTH, LENGTH / 2, OBS, sd)
                .expect("a small replay fits");
            let mut per = PrioritizedSampler::new(1000, config.per_alpha, config.per_eps)
                .expect("a valid sampler");
            let state: Vec<f32> = (0..sd).map(|_| rng.gen_range(-0.5..0.5)).collect();
            let mut t = 0usize;
            while replay.len() < 1000 || replay.starts_episode(0) {
                let o: Vec<f32> = (0..OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let next: Vec<f32> = (0..OBS).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let a = rng.gen_range(0..ACTIONS) as f32;
                let slot = replay.add_step(0, &o, &state, a, rng.gen(), &next, false, false, t == 0);
                if let Some(slot) = slot {
                    per.on_add([slot]);
                }
                t += 1;
            }
            let mut learner = Learner::new(&q, &config);
            let mut batch = SequenceBatch::new(BATCH, LENGTH, OBS, sd);
            let (mut indices, mut weights) = (Vec::new(), Vec::new());
            let mut priorities = vec![0.0f32; BATCH];
            let mut grads = q.layout.zeros();
            let mut opt = Adam::new(AdamConfig::default(), params.len());
            Box::new(move || {
                per.sample(BATCH, replay.len(), 0.6, &mut rng, &mut indices, &mut weights);
                replay.fill(&indices, &mut batch);
                let scale = 1.0 / (BATCH * (LENGTH - config.burn_in)) as f32;
                grads.fill(0.0);
                let sums = learner.group(
                    &q,
                    &config,
                    &params,
                    &target,
                    &batch,
                    config.burn_in,
                    &weights,
                    scale,
                    &mut grads,
                    &mut priorities,
                );
                per.update_priorities(&indices, &priorities);
                engram_nn::optim::clip_grad_norm(&mut grads, 10.0);
                opt.step(&mut params, &grads, 1e-4);
                black_box(sums.loss);
            })
        },
    )
    .with_rate("sequences", BATCH as f64);
    vec![update]
}

/// `sac_update_mlp256_b256`: one full SAC gradient step as SB3 takes it (entropy coefficient,
/// twin critics, actor through the updated critics, Polyak targets; three Adams) on rl-zoo's
/// Pendulum-v1 networks, [256, 256] ReLU actor and critics, batch 256 sampled uniformly from a
/// 10k replay buffer of Pendulum-sized transitions. Rates: samples; `flop`, the GEMM FLOP
/// engram performs (backward counted as twice the forward; the actor's loss takes only the
/// critics' input gradients, each row through the one critic that is its minimum); and
/// `sb3_flop`, the GEMM FLOP of SB3's step (which also takes the critics' weight gradients
/// in the actor's loss, on every row of both critics).
pub fn sac_workloads() -> Vec<Workload> {
    use crate::algos::sac::{self, SacLearner};
    use crate::offpolicy::driver::{Learner, NoGuard};
    use crate::offpolicy::replay::{Batch, ReplayBuffer};
    use crate::offpolicy::split_store::Start;
    const BATCH: usize = 256;
    const OBS_P: usize = 3;
    const HIDDEN: usize = 256;
    // Multiply-adds of one row through the actor (3 -> 256 -> 256 -> 2) and a critic (4 -> ... -> 1).
    let actor = (OBS_P * HIDDEN + HIDDEN * HIDDEN + HIDDEN * 2) as f64;
    let critic = ((OBS_P + 1) * HIDDEN + HIDDEN * HIDDEN + HIDDEN) as f64;
    // Actor: 2 forwards, 1 backward; critics: 2 target forwards, 2 + 2 forwards, 2 backwards
    // and the actor loss's input gradients (one critic per row: a forward's worth).
    let flop = 2.0 * BATCH as f64 * (4.0 * actor + 11.0 * critic);
    // SB3: the actor loss's 2 critic backwards are full ones on every row.
    let sb3_flop = 2.0 * BATCH as f64 * (4.0 * actor + 14.0 * critic);
    let update = Workload::new(
        "sac_update_mlp256_b256",
        "SAC gradient step: alpha, twin critics, actor, Polyak; [256, 256] ReLU, B=256, Pendulum-sized",
        || {
            let rc = crate::algos::RunConfig::tuned(sac::NAME, "Pendulum-v1")
                .expect("sac's tuned Pendulum config");
            let c: sac::Config = rc.algo::<sac::Config>().cloned().unwrap_or_default();
            let probe = rc.common.make_env().expect("Pendulum-v1 exists");
            let agent = sac::build_agent(&rc, &c, &*probe).expect("the bench networks build");
            let mut learner =
                SacLearner::new(Start::Seed(0), &rc, &c, agent).expect("fresh SAC networks");
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut buffer = ReplayBuffer::new(10_000, 1, OBS_P, 1).expect("a small buffer");
            for _ in 0..10_000 {
                let obs: Vec<f32> = (0..OBS_P).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let next: Vec<f32> = (0..OBS_P).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let action = [rng.gen_range(-1.0..1.0)];
                let done = [rng.gen::<f64>() < 0.05];
                buffer.add(&obs, &next, &action, &[rng.gen()], &done, &[false]);
            }
            let mut batch = Batch::new(BATCH, OBS_P, 1);
            let mut sums = vec![(0.0, 0); learner.metric_names().len()];
            Box::new(move || {
                buffer.sample_uniform(BATCH, 1, 0.99, &mut rng, &mut batch);
                learner.gradient_step(&batch, &mut rng, 3e-4, &NoGuard, &mut sums);
                black_box(&sums);
            })
        },
    )
    .with_rate("samples", BATCH as f64)
    .with_rate("flop", flop)
    .with_rate("sb3_flop", sb3_flop);
    vec![update]
}

// ---------------------------------------------------------------------------------------------
// Environment stepping and training throughput

/// Environment steps per iteration of the stepping workloads.
const ENV_STEPS_PER_ITER: usize = 1024;

/// `env_cartpole_single` and `env_cartpole_vec8`: CartPole-v1 as `make` returns it (time
/// limit and order checks included), random actions, resets counted.
pub fn env_workloads() -> Vec<Workload> {
    use engram_env::vector::{AutoresetMode, SyncVectorEnv, VectorEnv};
    use engram_env::{Action, Env, Options};
    let single = Workload::new("env_cartpole_single", "CartPole-v1 steps, one env", || {
        let mut env =
            engram_env::make("CartPole-v1", &Options::default()).expect("CartPole-v1 is built in");
        let mut obs = [0.0f32; 4];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let actions: Vec<i64> = (0..ENV_STEPS_PER_ITER)
            .map(|_| rng.gen_range(0..2))
            .collect();
        env.reset(Some(0), &mut obs).expect("reset");
        Box::new(move || {
            for &a in &actions {
                let step = env.step(Action::Discrete(a), &mut obs).expect("step");
                if step.terminated || step.truncated {
                    env.reset(None, &mut obs).expect("reset");
                }
            }
            black_box(&obs);
        })
    })
    .with_rate("steps", ENV_STEPS_PER_ITER as f64);
    let vec8 = Workload::new(
        "env_cartpole_vec8",
        "CartPole-v1 steps, SyncVectorEnv of 8",
        || {
            let envs = (0..8)
                .map(|_| {
                    engram_env::make("CartPole-v1", &Options::default())
                        .expect("CartPole-v1 is built in")
                })
                .collect();
            let mut venv = SyncVectorEnv::new(envs, AutoresetMode::SameStep).expect("vector env");
            venv.reset(Some(0)).expect("reset");
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let actions: Vec<f32> = (0..ENV_STEPS_PER_ITER)
                .map(|_| rng.gen_range(0..2) as f32)
                .collect();
            Box::new(move || {
                for batch in actions.chunks_exact(8) {
                    venv.step(batch).expect("step");
                }
                black_box(venv.observations());
            })
        },
    )
    .with_rate("steps", ENV_STEPS_PER_ITER as f64);
    let breakout = Workload::new(
        "env_minatar_breakout_single",
        "MinAtar/Breakout-v1 steps (random actions, sticky 0.1), one env",
        || {
            let mut env = engram_env::make("MinAtar/Breakout-v1", &Options::default())
                .expect("MinAtar/Breakout-v1 is built in");
            let mut obs = [0.0f32; 400];
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let actions: Vec<i64> = (0..ENV_STEPS_PER_ITER)
                .map(|_| rng.gen_range(0..3))
                .collect();
            env.reset(Some(0), &mut obs).expect("reset");
            Box::new(move || {
                for &a in &actions {
                    let step = env.step(Action::Discrete(a), &mut obs).expect("step");
                    if step.terminated || step.truncated {
                        env.reset(None, &mut obs).expect("reset");
                    }
                }
                black_box(&obs);
            })
        },
    )
    .with_rate("steps", ENV_STEPS_PER_ITER as f64);
    vec![single, vec8, breakout]
}

/// What the runtime costs per update when a run logs every step, as a bandit does: one
/// update of two metrics, a one-step episode (a row of episodes.csv) and a metrics row.
pub fn runtime_workloads() -> Vec<Workload> {
    const UPDATES_PER_ITER: usize = 1000;
    let logged = Workload::new(
        "monitor_log_every_step",
        "Monitor: update + one-step episode + metrics row, 1000 per iteration (log_interval = 1)",
        || {
            static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "engram-bench-monitor-{}-{}",
                std::process::id(),
                RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let config = crate::config::CommonConfig {
                log_interval: 1,
                total_steps: u64::MAX / 2,
                eval_interval: 0,
                ..crate::config::CommonConfig::default()
            };
            let monitor =
                crate::runtime::Monitor::new(config, None, &dir, None, 0.0, true).expect("monitor");
            /// Removes the directory with the workload instance.
            struct Remove(std::path::PathBuf);
            impl Drop for Remove {
                fn drop(&mut self) {
                    let _ = std::fs::remove_dir_all(&self.0);
                }
            }
            let remove = Remove(dir);
            let mut i = 0u64;
            Box::new(move || {
                let _ = &remove;
                for _ in 0..UPDATES_PER_ITER {
                    i += 1;
                    let reward = (i % 7) as f64 * 0.25;
                    monitor.episode_done(reward, 1);
                    let metrics = [
                        crate::runtime::Metric::mean("reward", reward),
                        crate::runtime::Metric::mean("optimal_action", (i % 2) as f64),
                    ];
                    if monitor.update_done(1, &metrics).log {
                        black_box(monitor.log_row());
                    }
                }
            })
        },
    )
    .with_rate("updates", UPDATES_PER_ITER as f64);
    vec![logged]
}

/// `train_a3c_cartpole_lstm64`: A3C-LSTM-64 training on CartPole-v1 with one worker per core,
/// for about `seconds`; steps per second of the whole run (acting, stepping, updates).
pub fn train_throughput(seconds: f64) -> Result<BenchResult, crate::error::TrainError> {
    let dir = std::env::temp_dir().join(format!("engram-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = crate::RunConfig::tuned("a3c", "CartPole-v1")?;
    config.net.policy = crate::config::PolicyKind::Lstm;
    config.net.hidden_size = 64;
    // A budget that lasts about `seconds` at ~150k steps/s; the measured rate is what counts.
    config.common.total_steps = (seconds * 150_000.0) as u64;
    config.common.eval_interval = 0;
    config.common.checkpoint_interval = i64::MAX as u64;
    config.common.log_interval = config.common.total_steps;
    let workers = config
        .algo::<crate::algos::a3c::Config>()
        .map_or(1, |c| c.workers);
    let summary = crate::train::train(config, Some(&dir), true);
    let _ = std::fs::remove_dir_all(&dir);
    let summary = summary?;
    let per_step_us = 1e6 / summary.steps_per_second;
    Ok(BenchResult {
        name: "train_a3c_cartpole_lstm64".into(),
        median_us: per_step_us,
        min_us: per_step_us,
        iterations: summary.env_steps as usize,
        extra: vec![
            ("steps_per_second".into(), summary.steps_per_second),
            ("workers".into(), workers as f64),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_runs_and_updates_reduce_nothing_to_nan() {
        for w in nn_workloads()
            .into_iter()
            .chain(dqn_workloads())
            .chain(r2d2_workloads())
            .chain(sac_workloads())
            .chain(env_workloads())
            .chain(runtime_workloads())
            .chain(gemm_workloads().into_iter().take(3))
        {
            let mut f = w.instantiate();
            f();
            f();
        }
        let mut u = A3cUpdate::new(Core::Lstm(8), 2, 1);
        for _ in 0..3 {
            assert!(u.update().iter().all(|l| l.is_finite()));
        }
    }

    #[test]
    fn repeated_updates_on_a_fixed_rollout_lower_the_loss() {
        // Adam on a fixed rollout: the value loss (a plain regression) must go down.
        let mut u = A3cUpdate::new(Core::Lstm(16), 4, 3);
        let first = u.update()[1];
        let mut last = first;
        for _ in 0..300 {
            last = u.update()[1];
        }
        assert!(last < first, "loss went from {first} to {last}");
    }

    #[test]
    fn results_serialise_to_one_json_line() {
        let r = BenchResult {
            name: "x".into(),
            median_us: 1.23456,
            min_us: 1.0,
            iterations: 10,
            extra: vec![("steps_per_second".into(), 5.0)],
        };
        let j = r.to_json();
        assert!(!j.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["name"], "x");
        assert_eq!(v["median_us"], 1.235);
        assert_eq!(v["steps_per_second"], 5.0);
        assert!(format_table(&[r]).contains("median_us"));
    }

    #[test]
    fn quick_measure_reports_sane_numbers() {
        let w = act_workload("act_lstm8", Core::Lstm(8));
        let r = measure(&w, Duration::from_millis(30));
        assert!(r.min_us > 0.0 && r.min_us <= r.median_us && r.iterations >= 5);
        assert_eq!(r.extra[0].0, "steps_per_second");
    }
}
