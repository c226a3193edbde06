//! One environment stepped by a tabular method, in state numbers and action indices, with
//! rewards in `f64`. Finished episodes go to the monitor, and the next episode starts with a
//! seed from the runner's RNG (which also serves the method's exploration draws).
//!
//! **Fast path.** The runner steps the environment without `make`'s outer wrappers (two
//! dynamic calls and a copy of each step's result, a third of a Q-learning step): it keeps
//! their contract itself. It never steps an ended episode (it resets first), passes only
//! actions of the space, and truncates at the registered step limit exactly as Gymnasium's
//! `TimeLimit` does (the step that reaches it reports `truncated`).
//!
//! The finite MDPs that step by numbers ([`engram_env::StepByIndex`]: FrozenLake,
//! CliffWalking, Taxi, the textbook's tables) skip the rest of `Env::step` too: no `Action`,
//! no observation buffer, no `Result`, their state number straight from the environment.
//! Same draws, same states: the other environments take the general path.
//!
//! Saving is small and exact, as the other collectors': the RNG position, the running
//! episode's seed and actions (replayed on restore) and, for environments that remember
//! across episodes (the changing mazes, the bandit's arm values), their `state()` at the
//! episode's start, restored before the replay.

use crate::agent::tabular::{discrete_actions, StateIndex};
use crate::config::CommonConfig;
use crate::error::TrainError;
use crate::runtime::Monitor;
use engram_env::{Action, Env, EnvError, Info, StepByIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One step as a tabular method sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub state: usize,
    pub action: usize,
    pub reward: f64,
    /// The state reached (the episode's last when it ended).
    pub next: usize,
    pub terminated: bool,
    pub truncated: bool,
}

impl Transition {
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// What a checkpoint stores of a runner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunnerState {
    pub rng_seed: [u8; 32],
    pub rng_word_pos: u128,
    pub episode_seed: u64,
    pub actions: Vec<u32>,
    pub episode_return: f64,
    /// The environment's `state()` right after the episode's reset, if it has one.
    pub env_state: Option<Vec<f64>>,
}

/// The environment's `state()` at the episode's start: for the environments that step by
/// numbers it is `[state number]`, kept as the number (no allocation per episode).
#[derive(Clone, Debug, PartialEq)]
enum StartState {
    Index(usize),
    Full(Option<Vec<f64>>),
}

impl StartState {
    fn of(env: &mut dyn Env) -> StartState {
        match env.by_index() {
            Some(env) => StartState::Index(env.state_index()),
            None => StartState::Full(env.state()),
        }
    }

    fn to_vec(&self) -> Option<Vec<f64>> {
        match self {
            StartState::Index(s) => Some(vec![*s as f64]),
            StartState::Full(state) => state.clone(),
        }
    }
}

pub struct Runner {
    /// The environment without `make`'s order check and time limit (see the module docs).
    env: Box<dyn Env>,
    /// The registered step limit (`usize::MAX`: none).
    max_episode_steps: usize,
    states: StateIndex,
    /// The environment's first action (a Discrete space may start above 0).
    pub action_start: i64,
    pub n_actions: usize,
    /// Episode seeds and the method's own draws (exploration, planning).
    pub rng: ChaCha8Rng,
    obs: Vec<f32>,
    /// The current state.
    pub state: usize,
    episode_seed: u64,
    actions: Vec<u32>,
    episode_return: f64,
    env_state: StartState,
    /// `info` of the last step, before the next episode's reset (only when asked for).
    pub last_info: Info,
    keep_info: bool,
}

impl Runner {
    /// The configured environment's runner, seeded with the run's seed.
    pub fn make(common: &CommonConfig) -> Result<Runner, TrainError> {
        let (env, limit) = common.make_bare_env()?;
        Runner::new(env, limit, &common.env, common.seed)
    }

    /// Starts the first episode of `env` (bare: see the module docs; truncated after
    /// `max_episode_steps`) with a seed drawn from `seed`'s stream.
    pub fn new(
        env: Box<dyn Env>,
        max_episode_steps: Option<usize>,
        env_id: &str,
        seed: u64,
    ) -> Result<Runner, TrainError> {
        let states = StateIndex::new(env.observation_space(), env_id)?;
        let (n_actions, action_start) = discrete_actions(env.action_space(), env_id)?;
        let mut runner = Runner {
            obs: vec![0.0; env.observation_space().flat_dim()],
            env,
            max_episode_steps: max_episode_steps.unwrap_or(usize::MAX),
            states,
            action_start,
            n_actions,
            rng: ChaCha8Rng::seed_from_u64(seed),
            state: 0,
            episode_seed: 0,
            actions: Vec::new(),
            episode_return: 0.0,
            env_state: StartState::Full(None),
            last_info: Info::new(),
            keep_info: false,
        };
        runner.begin_episode()?;
        Ok(runner)
    }

    pub fn n_states(&self) -> usize {
        self.states.n_states()
    }

    /// Keep each step's `info` in [`Runner::last_info`] (the bandit's optimal arm).
    pub fn keep_info(&mut self) {
        self.keep_info = true;
    }

    pub fn env(&self) -> &dyn Env {
        &*self.env
    }

    pub fn env_mut(&mut self) -> &mut dyn Env {
        &mut *self.env
    }

    fn begin_episode(&mut self) -> Result<(), EnvError> {
        self.episode_seed = self.rng.gen::<u64>() >> 1;
        self.env.reset(Some(self.episode_seed), &mut self.obs)?;
        self.env_state = StartState::of(&mut *self.env);
        self.actions.clear();
        self.episode_return = 0.0;
        self.state = self.states.index(&self.obs);
        Ok(())
    }

    /// Moves the running episode to a start state drawn uniformly from those the environment
    /// accepts (exploring starts): states are drawn until `set_state` takes one (every state,
    /// for the grids; Blackjack refuses sums a deal cannot hold).
    pub fn exploring_start(&mut self) -> Result<(), TrainError> {
        let n_states = self.n_states();
        let mut refusal = None;
        for _ in 0..n_states.saturating_mul(64).max(64) {
            let s = self.rng.gen_range(0..n_states);
            match self.env.set_state(&[s as f64]) {
                Ok(()) => {
                    self.env_state = StartState::of(&mut *self.env);
                    self.state = s;
                    return Ok(());
                }
                Err(e) => refusal = Some(e),
            }
        }
        Err(TrainError::Usage(format!(
            "exploring starts set the start state, which this environment refuses: {}",
            refusal.map_or_else(String::new, |e| e.to_string())
        )))
    }

    /// Takes action index `a` in the current state; an ended episode is reported to the
    /// monitor and the next one begins.
    #[inline(always)]
    pub fn step(&mut self, a: usize, monitor: &Monitor) -> Result<Transition, EnvError> {
        if a >= self.n_actions {
            return Err(self.invalid_action(a));
        }
        let (next, reward, terminated, truncated) = match self.env.by_index() {
            Some(mut env) => {
                let step = env.step_index(a);
                (step.next, step.reward, step.terminated, false)
            }
            None => self.step_env(a)?,
        };
        self.actions.push(a as u32);
        self.episode_return += reward;
        // TimeLimit's rule: the step that reaches the limit is truncated.
        let truncated = truncated || self.actions.len() >= self.max_episode_steps;
        let t = Transition {
            state: self.state,
            action: a,
            reward,
            next,
            terminated,
            truncated: truncated && !terminated,
        };
        if self.keep_info {
            self.last_info = self.env.info();
        }
        if terminated || truncated {
            self.next_episode(monitor)?;
        } else {
            self.state = next;
        }
        Ok(t)
    }

    /// [`Runner::step`] through `Env::step`: `(next state, reward, terminated, truncated)`.
    #[inline(never)]
    fn step_env(&mut self, a: usize) -> Result<(usize, f64, bool, bool), EnvError> {
        let action = Action::Discrete(a as i64 + self.action_start);
        let step = self.env.step(action, &mut self.obs)?;
        let next = self.states.index(&self.obs);
        Ok((next, step.reward, step.terminated, step.truncated))
    }

    /// Reports the ended episode and begins the next (out of the step loop: a Taxi episode
    /// is 15 steps, a FrozenLake one 80).
    #[inline(never)]
    fn next_episode(&mut self, monitor: &Monitor) -> Result<(), EnvError> {
        monitor.episode_done(self.episode_return, self.actions.len() as u64);
        self.begin_episode()
    }

    #[cold]
    #[inline(never)]
    fn invalid_action(&self, a: usize) -> EnvError {
        let action = Action::Discrete(a as i64 + self.action_start);
        EnvError::InvalidAction {
            action: action.to_string(),
            space: self.env.action_space().describe(),
        }
    }

    /// Ends the running episode early (a method's own length cap): reported to the monitor
    /// like a truncated one, and the next begins.
    pub fn cut_episode(&mut self, monitor: &Monitor) -> Result<(), EnvError> {
        self.next_episode(monitor)
    }

    pub fn save(&self) -> RunnerState {
        RunnerState {
            rng_seed: self.rng.get_seed(),
            rng_word_pos: self.rng.get_word_pos(),
            episode_seed: self.episode_seed,
            actions: self.actions.clone(),
            episode_return: self.episode_return,
            env_state: self.env_state.to_vec(),
        }
    }

    /// Puts the runner back where [`Runner::save`] was called.
    pub fn restore(&mut self, saved: &RunnerState) -> Result<(), TrainError> {
        self.rng = ChaCha8Rng::from_seed(saved.rng_seed);
        self.rng.set_word_pos(saved.rng_word_pos);
        self.episode_seed = saved.episode_seed;
        self.env.reset(Some(saved.episode_seed), &mut self.obs)?;
        if let Some(state) = &saved.env_state {
            self.env.set_state(state).map_err(|e| {
                TrainError::Usage(format!(
                    "the checkpoint's environment state is refused: {e}"
                ))
            })?;
            self.state = match state.first() {
                // Environments whose state is one number: it is the state index (exploring
                // starts move it).
                Some(&s) if state.len() == 1 && s >= 0.0 && (s as usize) < self.n_states() => {
                    s as usize
                }
                _ => self.states.index(&self.obs),
            };
        } else {
            self.state = self.states.index(&self.obs);
        }
        self.env_state = StartState::Full(saved.env_state.clone());
        for (taken, &a) in saved.actions.iter().enumerate() {
            if a as usize >= self.n_actions {
                return Err(TrainError::Usage(format!(
                    "the checkpoint's episode holds action {a}, outside the {} actions",
                    self.n_actions
                )));
            }
            let step = self.env.step(
                Action::Discrete(a as i64 + self.action_start),
                &mut self.obs,
            )?;
            let at_limit = taken + 1 >= self.max_episode_steps;
            if step.terminated || step.truncated || at_limit {
                return Err(TrainError::Usage(
                    "the checkpoint's running episode ends before its last action: the \
                     checkpoint does not belong to this environment"
                        .into(),
                ));
            }
            self.state = self.states.index(&self.obs);
        }
        self.actions = saved.actions.clone();
        self.episode_return = saved.episode_return;
        Ok(())
    }
}
