//! DQN (Mnih et al. 2015) with the improvements that need no distributional head: Double
//! DQN (van Hasselt et al. 2016, `double_q`), the dueling architecture (Wang et al. 2016,
//! `dueling`), proportional prioritized replay (Schaul et al. 2016, `prioritized`) and n-step
//! returns (`n_step`); any combination ("Rainbow-lite").
//!
//! The loop is SB3's `OffPolicyAlgorithm` + `DQN`, whose option names and defaults it keeps:
//! 1. collect `train_freq` steps (or episodes) of all `n_envs` environments: uniformly random
//!    actions until `learning_starts` env steps, then epsilon-greedy; every step goes into the
//!    replay buffer (the final observation of an episode as its next observation, so a
//!    truncated step bootstraps and a terminated one does not). After each lockstep step the
//!    target network is updated every `target_update_interval / n_envs` steps (Polyak with
//!    `tau`; 1 = hard copy) and the exploration rate follows its linear schedule
//!    (`exploration_initial_eps` to `exploration_final_eps` over `exploration_fraction`).
//! 2. once past `learning_starts`, take `gradient_steps` gradient steps (-1: as many as env
//!    steps were collected), each on `batch_size` transitions: the Huber loss (SB3's
//!    `smooth_l1_loss`) between `Q(s, a)` and `R + discount * Q_target(s', a*)`, with
//!    `a* = argmax Q_target(s', .)` or, with `double_q`, `argmax Q(s', .)`; global-norm
//!    clipping at `max_grad_norm` (10, SB3's), Adam.
//!
//! Where engram differs from SB3: each environment draws its own epsilon-greedy coin (SB3 draws
//! one for the whole batch of environments), and n-step windows that reach the newest
//! transition bootstrap from it (see `offpolicy::replay`).
//!
//! # Checkpoints
//! Parameters, target parameters (`target.<name>`), Adam, the stepper (RNG and running
//! episodes) and the counters always; the replay buffer (`replay.<array>`, and the priorities)
//! only with `save_replay_buffer`, which makes `--resume` exact. Without it a resumed run
//! refills its empty buffer: gradient steps pause until it holds `learning_starts`
//! transitions again (at least one batch).

use super::RunConfig;
use crate::agent::q_network::{argmax_rows, QNetwork, QPass};
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::offpolicy::prioritized::{PrioritizedSampler, PrioritizedState};
use crate::offpolicy::q_learning::{
    check_exploration, epsilon_greedy, epsilon_schedule, replay_tensors, restore_priorities,
    saved_replay_arrays, saved_state, TargetClock,
};
use crate::offpolicy::replay::{Batch, ReplayBuffer, ReplayState};
use crate::offpolicy::stepper::{Stepper, StepperState};
use crate::runtime::checkpoint::{load_params, param_tensors};
use crate::runtime::{CheckpointParts, LocalStore, Metric, ParamStore, Session, StopReason};
use engram_nn::optim::{clip_grad_norm, Schedule};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "dqn";
pub const DESCRIPTION: &str =
    "Deep Q-Network with optional double Q, dueling heads, prioritized replay and n-step returns";
pub const ACTOR_CRITIC: bool = false;

/// `train_freq`'s unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreqUnit {
    Step,
    Episode,
}

/// The largest `batch_size` (published DQN recipes use 32-512).
pub const MAX_BATCH: usize = 8192;

/// DQN's options, with SB3's names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub buffer_size: usize,
    pub learning_starts: u64,
    pub batch_size: usize,
    pub tau: f64,
    pub gamma: f64,
    pub train_freq: u64,
    pub train_freq_unit: FreqUnit,
    pub gradient_steps: i64,
    pub target_update_interval: u64,
    pub exploration_fraction: f64,
    pub exploration_initial_eps: f64,
    pub exploration_final_eps: f64,
    pub double_q: bool,
    pub dueling: bool,
    pub prioritized: bool,
    pub per_alpha: f64,
    pub per_beta0: f64,
    pub per_eps: f64,
    pub n_step: usize,
    pub save_replay_buffer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_envs: 1,
            buffer_size: 1_000_000,
            learning_starts: 100,
            batch_size: 32,
            tau: 1.0,
            gamma: 0.99,
            train_freq: 4,
            train_freq_unit: FreqUnit::Step,
            gradient_steps: 1,
            target_update_interval: 10_000,
            exploration_fraction: 0.1,
            exploration_initial_eps: 1.0,
            exploration_final_eps: 0.05,
            double_q: false,
            dueling: false,
            prioritized: false,
            per_alpha: 0.6,
            per_beta0: 0.4,
            per_eps: 1e-6,
            n_step: 1,
            save_replay_buffer: false,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        super::check_n_envs(self.n_envs)?;
        check::at_least_one("buffer_size", self.buffer_size)?;
        // Published DQN recipes use 32-512; a batch of 100k made every gradient step take
        // a tenth of a second, and a 1,500-step fuzzed run minutes.
        check::count(
            "batch_size",
            self.batch_size,
            MAX_BATCH,
            "transitions per gradient step",
        )?;
        if self.batch_size > self.buffer_size {
            return Err(invalid(
                "batch_size",
                format!(
                    "must be at most buffer_size ({}), got {}",
                    self.buffer_size, self.batch_size
                ),
            ));
        }
        check::at_least_one("n_step", self.n_step)?;
        check::unit("tau", self.tau, true)?;
        check::unit("gamma", self.gamma, false)?;
        if self.train_freq == 0 {
            return Err(invalid("train_freq", "must be at least 1"));
        }
        if self.gradient_steps > 10_000 {
            return Err(invalid(
                "gradient_steps",
                format!(
                    "must be at most 10000 per collection (-1: as many as env steps collected), got {}",
                    self.gradient_steps
                ),
            ));
        }
        if self.gradient_steps < -1 {
            return Err(invalid(
                "gradient_steps",
                format!(
                    "must be a number of steps, or -1 for as many as env steps collected; got {}",
                    self.gradient_steps
                ),
            ));
        }
        if self.target_update_interval == 0 {
            return Err(invalid("target_update_interval", "must be at least 1"));
        }
        check_exploration(
            self.exploration_fraction,
            self.exploration_initial_eps,
            self.exploration_final_eps,
        )?;
        check::non_negative("per_alpha", self.per_alpha)?;
        check::unit("per_beta0", self.per_beta0, false)?;
        check::positive("per_eps", self.per_eps)
    }

    fn exploration(&self) -> Schedule {
        epsilon_schedule(
            self.exploration_initial_eps,
            self.exploration_final_eps,
            self.exploration_fraction,
        )
    }
}

fn q_network(
    rc: &RunConfig,
    c: &Config,
    probe: &dyn engram_env::Env,
) -> Result<Arc<QNetwork>, TrainError> {
    Ok(Arc::new(QNetwork::new(
        probe.observation_space(),
        probe.action_space(),
        &rc.net,
        c.dueling,
    )?))
}

impl super::Algorithm for Config {
    fn agent(
        &self,
        rc: &RunConfig,
        probe: &dyn engram_env::Env,
    ) -> Result<Arc<dyn Act>, TrainError> {
        Ok(q_network(rc, self, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn engram_env::Env) -> Result<(), TrainError> {
        q_network(rc, self, probe)?;
        let obs_dim = probe.observation_space().flat_dim();
        ReplayBuffer::check_size(self.buffer_size, self.n_envs, obs_dim, 1)
            .map_err(TrainError::Usage)
    }
}

/// What a checkpoint stores of a DQN run besides tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DqnState {
    stepper: StepperState,
    /// Lockstep steps so far (SB3's `_n_calls`): the target update's clock.
    n_calls: u64,
    replay: Option<ReplayState>,
    prioritized: Option<PrioritizedState>,
    /// Gradient steps wait until the buffer holds this many transitions (a resumed run
    /// without its saved buffer refills first).
    refill_until: usize,
}

const TARGET: &str = "target";

/// Runs DQN.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let q = q_network(rc, c, &*probe)?;
    let layout = &q.layout;
    let n = q.n_actions();
    let obs_dim = q.obs_dim();
    let mut store: LocalStore = session.local_store(layout, &rc.optim)?;
    let mut target = store.params.clone();
    let envs = (0..c.n_envs)
        .map(|_| rc.common.make_env())
        .collect::<Result<Vec<_>, _>>()?;
    let kind = q.action_kind().clone();
    let mut stepper = Stepper::new(envs, kind, obs_dim, rc.common.seed)?;
    let mut buffer =
        ReplayBuffer::new(c.buffer_size, c.n_envs, obs_dim, 1).map_err(TrainError::Usage)?;
    let mut per = if c.prioritized {
        Some(
            PrioritizedSampler::new(buffer.capacity(), c.per_alpha, c.per_eps)
                .map_err(TrainError::Usage)?,
        )
    } else {
        None
    };
    let mut n_calls = 0u64;
    let mut refill_until = 0usize;
    if let Some(r) = &session.resume {
        let path = &r.path;
        target = load_params(&r.checkpoint, layout, TARGET, path)?;
        let saved: DqnState = saved_state(&r.state.collectors, path, "DQN")?;
        stepper.restore(&saved.stepper)?;
        n_calls = saved.n_calls;
        refill_until = saved.refill_until;
        match (&saved.replay, c.save_replay_buffer) {
            (Some(state), true) => {
                let arrays = saved_replay_arrays(&r.checkpoint);
                buffer =
                    ReplayBuffer::restore(state.clone(), &arrays).map_err(TrainError::Usage)?;
                restore_priorities(&mut per, &saved.prioritized, &arrays)?;
            }
            _ => {
                refill_until = (c.learning_starts as usize).max(c.batch_size);
                session.monitor.progress.println(&format!(
                    "the replay buffer was not saved (save_replay_buffer = false): it refills from \
                     empty, and learning waits for {refill_until} transitions"
                ));
            }
        }
    }
    session.start(q.clone(), true)?;
    let exploration = c.exploration();
    let lr_schedule = rc.optim.lr();
    // Prioritized replay's importance-sampling exponent, annealed to 1 over training.
    let beta_schedule = Schedule::Linear {
        start: c.per_beta0,
        end: 1.0,
    };
    let mut acting = q.pass(c.n_envs);
    let mut online = q.pass(c.batch_size);
    let mut online_next = q.pass(c.batch_size);
    let mut target_next = q.pass(c.batch_size);
    let mut batch = Batch::new(c.batch_size, obs_dim, 1);
    let mut weights = vec![1.0f32; c.batch_size];
    let mut grads = layout.zeros();
    let mut d_q = vec![0.0f32; c.batch_size * n];
    let mut td = vec![0.0f32; c.batch_size];
    let (mut actions, mut greedy) = (vec![0.0f32; c.n_envs], vec![0usize; c.n_envs]);
    let mut best_next = vec![0usize; c.batch_size];
    let mut obs_before = vec![0.0f32; c.n_envs * obs_dim];
    let target_clock = TargetClock::new(c.target_update_interval, c.n_envs);
    let total = rc.common.total_steps as f64;
    let monitor = session.monitor.clone();
    let mut exploration_rate = exploration.value(monitor.env_steps() as f64 / total);

    let parts = |store: &LocalStore,
                 target: &[f32],
                 stepper: &Stepper,
                 buffer: &ReplayBuffer,
                 per: &Option<PrioritizedSampler>,
                 n_calls: u64,
                 refill_until: usize| {
        let mut extra = param_tensors(TARGET, layout, target);
        let saving = c.save_replay_buffer;
        if saving {
            extra.extend(replay_tensors(buffer.arrays(), per));
        }
        let state = DqnState {
            stepper: stepper.save(),
            n_calls,
            replay: saving.then(|| buffer.state()),
            prioritized: per.as_ref().filter(|_| saving).map(|p| p.state()),
            refill_until,
        };
        CheckpointParts {
            params: store.snapshot(),
            optimizers: store.optimizer_states(),
            extra,
            collectors: vec![serde_json::to_value(state).ok()],
            obs_stats: None,
        }
    };

    let result: Result<(), TrainError> = (|| {
        while session.running() {
            // 1. Collect train_freq steps (or episodes) of every environment.
            let (mut steps, mut episodes) = (0u64, 0u64);
            let mut timesteps = monitor.env_steps();
            while match c.train_freq_unit {
                FreqUnit::Step => steps < c.train_freq,
                FreqUnit::Episode => episodes < c.train_freq,
            } {
                obs_before.copy_from_slice(stepper.obs());
                let greedy_actions = if timesteps < c.learning_starts {
                    None
                } else {
                    q.forward(&store.params, &obs_before, &mut acting);
                    argmax_rows(&acting.q, n, &mut greedy);
                    Some(&greedy[..])
                };
                let rng = &mut stepper.rng;
                epsilon_greedy(greedy_actions, n, exploration_rate, rng, &mut actions);
                episodes += stepper.step(&actions, &monitor)? as u64;
                let slots = buffer.write_range();
                buffer.add(
                    &obs_before,
                    &stepper.next_obs,
                    &actions,
                    &stepper.rewards,
                    &stepper.terminated,
                    &stepper.truncated,
                );
                if let Some(p) = &mut per {
                    p.on_add(slots);
                }
                steps += 1;
                timesteps += c.n_envs as u64;
                n_calls += 1;
                if target_clock.due(n_calls) {
                    polyak(&mut target, &store.params, c.tau as f32);
                }
                exploration_rate = exploration.value(timesteps as f64 / total);
                if !session.running() || monitor.should_stop().is_some() {
                    break;
                }
            }
            // 2. Gradient steps.
            let progress = timesteps as f64 / total;
            let lr = lr_schedule.value(progress);
            let gradient_steps = if c.gradient_steps >= 0 {
                c.gradient_steps as u64
            } else {
                steps * c.n_envs as u64
            };
            let learning = timesteps > c.learning_starts
                && buffer.len() >= refill_until.max(1)
                && gradient_steps > 0;
            let (mut loss_sum, mut q_sum, mut td_sum, mut norm_sum) = (0.0, 0.0, 0.0, 0.0);
            if learning {
                refill_until = 0;
                let beta = beta_schedule.value(progress);
                for _ in 0..gradient_steps {
                    match &per {
                        Some(p) => {
                            p.sample(
                                c.batch_size,
                                buffer.len(),
                                beta,
                                &mut stepper.rng,
                                &mut batch.indices,
                                &mut weights,
                            );
                            buffer.fill(c.n_step, c.gamma as f32, &mut batch);
                        }
                        None => buffer.sample_uniform(
                            c.batch_size,
                            c.n_step,
                            c.gamma as f32,
                            &mut stepper.rng,
                            &mut batch,
                        ),
                    }
                    let loss = td_loss(
                        &q,
                        c,
                        &store.params,
                        &target,
                        &batch,
                        &weights,
                        Passes {
                            online: &mut online,
                            online_next: &mut online_next,
                            target_next: &mut target_next,
                        },
                        &mut best_next,
                        &mut td,
                        &mut d_q,
                    );
                    grads.fill(0.0);
                    q.backward(&store.params, &mut grads, &batch.obs, &mut online, &d_q);
                    let norm = clip_grad_norm(&mut grads, rc.optim.max_grad_norm as f32) as f64;
                    if !session.update_is_finite(loss, norm) {
                        return Ok(());
                    }
                    store.apply(&grads, lr as f32);
                    if !session.params_are_finite(&store.params) {
                        return Ok(());
                    }
                    if let Some(p) = &mut per {
                        p.update_priorities(&batch.indices, &td);
                    }
                    loss_sum += loss;
                    norm_sum += norm;
                    q_sum += chosen_q_mean(&online.q, &batch.actions, n);
                    td_sum += td.iter().map(|t| t.abs() as f64).sum::<f64>() / td.len() as f64;
                }
            }
            let k = gradient_steps as f64;
            let measured = |sum: f64| if learning { sum / k } else { f64::NAN };
            let metrics = [
                Metric::mean("loss", measured(loss_sum)),
                Metric::mean("q_values", measured(q_sum)),
                Metric::mean("td_error", measured(td_sum)),
                Metric::mean("grad_norm", measured(norm_sum)),
                Metric::mean("gradient_steps", if learning { k } else { 0.0 }),
                Metric::last("exploration_rate", exploration_rate),
                Metric::last("learning_rate", lr),
            ];
            session.after_update(steps * c.n_envs as u64, &metrics, &mut || {
                parts(
                    &store,
                    &target,
                    &stepper,
                    &buffer,
                    &per,
                    n_calls,
                    refill_until,
                )
            })?;
        }
        Ok(())
    })();
    session.finish(result, || {
        parts(
            &store,
            &target,
            &stepper,
            &buffer,
            &per,
            n_calls,
            refill_until,
        )
    })
}

/// The forward passes one gradient step needs.
pub struct Passes<'a> {
    pub online: &'a mut QPass,
    pub online_next: &'a mut QPass,
    pub target_next: &'a mut QPass,
}

/// The (importance-weighted) Huber TD loss of a batch: fills `td` (`Q(s, a) - y`, for the
/// priorities) and `d_q` (its gradient with respect to `Q(s, .)`), returns the loss.
#[allow(clippy::too_many_arguments)]
pub fn td_loss(
    q: &QNetwork,
    c: &Config,
    params: &[f32],
    target: &[f32],
    batch: &Batch,
    weights: &[f32],
    passes: Passes,
    best_next: &mut [usize],
    td: &mut [f32],
    d_q: &mut [f32],
) -> f64 {
    let n = q.n_actions();
    let b = batch.len();
    q.forward(target, &batch.next_obs, passes.target_next);
    if c.double_q {
        // Double DQN: the online network picks the next action, the target evaluates it.
        q.forward(params, &batch.next_obs, passes.online_next);
        argmax_rows(&passes.online_next.q, n, best_next);
    } else {
        argmax_rows(&passes.target_next.q, n, best_next);
    }
    q.forward(params, &batch.obs, passes.online);
    d_q.fill(0.0);
    let mut loss = 0.0f64;
    for i in 0..b {
        let next = passes.target_next.q[i * n + best_next[i]];
        let y = batch.rewards[i] + batch.discounts[i] * next;
        let a = batch.actions[i] as usize;
        let e = passes.online.q[i * n + a] - y;
        td[i] = e;
        let w = if c.prioritized { weights[i] } else { 1.0 };
        // Huber with delta 1 (SB3's smooth_l1_loss), mean over the batch.
        let (l, g) = if e.abs() <= 1.0 {
            (0.5 * e * e, e)
        } else {
            (e.abs() - 0.5, e.signum())
        };
        loss += (w * l) as f64;
        d_q[i * n + a] = w * g / b as f32;
    }
    loss / b as f64
}

fn chosen_q_mean(q: &[f32], actions: &[f32], n: usize) -> f64 {
    actions
        .iter()
        .enumerate()
        .map(|(i, &a)| q[i * n + a as usize] as f64)
        .sum::<f64>()
        / actions.len().max(1) as f64
}

/// `target <- tau * online + (1 - tau) * target` (`tau = 1`: a copy).
fn polyak(target: &mut [f32], online: &[f32], tau: f32) {
    if tau >= 1.0 {
        target.copy_from_slice(online);
    } else {
        for (t, &o) in target.iter_mut().zip(online) {
            *t += tau * (o - *t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_env::Space;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn q_and_config(dueling: bool) -> (QNetwork, Config) {
        let net = crate::config::NetConfig {
            policy: crate::config::PolicyKind::Mlp,
            encoder_layers: vec![6],
            ..crate::config::NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        };
        let q = QNetwork::new(&obs, &Space::Discrete { n: 3, start: 0 }, &net, dueling).unwrap();
        (q, Config::default())
    }

    /// A batch of two transitions: the second terminated (discount 0).
    fn batch() -> Batch {
        let mut b = Batch::new(2, 2, 1);
        b.obs = vec![0.1, 0.2, -0.5, 0.4];
        b.next_obs = vec![0.3, -0.1, 0.0, 0.9];
        b.actions = vec![2.0, 0.0];
        b.rewards = vec![1.0, -1.0];
        b.discounts = vec![0.99, 0.0];
        b
    }

    #[test]
    fn targets_and_double_q_match_hand_computation() {
        for (dueling, double_q) in [(false, false), (false, true), (true, false), (true, true)] {
            let (q, mut c) = q_and_config(dueling);
            c.double_q = double_q;
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let online = q.layout.initialize(&mut rng);
            let target = q.layout.initialize(&mut rng);
            let b = batch();
            let (mut p1, mut p2, mut p3) = (q.pass(2), q.pass(2), q.pass(2));
            let (mut best, mut td, mut d_q) = (vec![0; 2], vec![0.0; 2], vec![0.0; 6]);
            let loss = td_loss(
                &q,
                &c,
                &online,
                &target,
                &b,
                &[1.0, 1.0],
                Passes {
                    online: &mut p1,
                    online_next: &mut p2,
                    target_next: &mut p3,
                },
                &mut best,
                &mut td,
                &mut d_q,
            );
            // By hand: Q-values of both networks on both next observations.
            let values = |p: &[f32], obs: &[f32]| {
                let mut pass = q.pass(2);
                q.forward(p, obs, &mut pass);
                pass.q.clone()
            };
            let (qt, qo) = (values(&target, &b.next_obs), values(&online, &b.next_obs));
            let now = values(&online, &b.obs);
            let argmax =
                |row: &[f32]| (0..3).fold(0, |best, k| if row[k] > row[best] { k } else { best });
            let mut expected_loss = 0.0;
            for i in 0..2 {
                let pick = if double_q {
                    argmax(&qo[i * 3..i * 3 + 3])
                } else {
                    argmax(&qt[i * 3..i * 3 + 3])
                };
                let y = b.rewards[i] + b.discounts[i] * qt[i * 3 + pick];
                let e = now[i * 3 + b.actions[i] as usize] - y;
                assert!((td[i] - e).abs() < 1e-6, "td {i}: {} vs {e}", td[i]);
                expected_loss += if e.abs() <= 1.0 {
                    0.5 * e * e
                } else {
                    e.abs() - 0.5
                };
                // Only the taken action's Q gets a gradient.
                for k in 0..3 {
                    let g = d_q[i * 3 + k];
                    if k == b.actions[i] as usize {
                        assert!((g - e.clamp(-1.0, 1.0) / 2.0).abs() < 1e-6);
                    } else {
                        assert_eq!(g, 0.0);
                    }
                }
            }
            assert!((loss - expected_loss as f64 / 2.0).abs() < 1e-6);
        }
    }

    #[test]
    fn polyak_moves_the_target_by_tau() {
        let mut t = vec![0.0, 1.0];
        polyak(&mut t, &[1.0, 3.0], 0.25);
        assert_eq!(t, vec![0.25, 1.5]);
        polyak(&mut t, &[1.0, 3.0], 1.0);
        assert_eq!(t, vec![1.0, 3.0]);
    }
}
