//! Candidates in, fitness out: the searched coordinates ([`SearchSpace`]), parallel greedy
//! episodes ([`FitnessPool`]), centred ranks, and the search state a resumed run saved.

use crate::agent::{step_env, Act, ActorCritic, StepScratch};
use crate::error::TrainError;
use crate::runtime::evaluator::{NORMALIZE_CLIP, NORMALIZE_EPS};
use crate::runtime::Session;
use engram_env::wrappers::RunningMeanStd;
use engram_env::Env;
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::sync::Arc;

/// The longest episode a candidate plays: an environment without a time limit whose greedy
/// policy never ends an episode is refused instead of running forever.
pub const MAX_EPISODE_STEPS: u64 = 1_000_000;

/// The coordinates of the flat parameter vector a search moves: those that shape the greedy
/// action ([`ActorCritic::greedy_action_params`]). The value head and `log_std` keep their
/// initial values (they play no part in greedy play).
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    ranges: Vec<Range<usize>>,
    dim: usize,
}

impl SearchSpace {
    pub fn of(policy: &ActorCritic) -> SearchSpace {
        let ranges = policy.greedy_action_params();
        let dim = ranges.iter().map(|r| r.len()).sum();
        SearchSpace { ranges, dim }
    }

    /// Searched coordinates.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The searched coordinates of `full`.
    pub fn gather(&self, full: &[f32]) -> Vec<f64> {
        self.ranges
            .iter()
            .flat_map(|r| full[r.clone()].iter().map(|&v| v as f64))
            .collect()
    }

    /// Writes `x` (one value per searched coordinate) into `full`.
    pub fn scatter(&self, x: &[f64], full: &mut [f32]) {
        let mut values = x.iter();
        for r in &self.ranges {
            for (p, v) in full[r.clone()].iter_mut().zip(&mut values) {
                *p = *v as f32;
            }
        }
    }

    /// Calls `f(i, &mut full[..])` for the `i`-th searched coordinate, in order.
    pub fn for_each_mut(&self, full: &mut [f32], mut f: impl FnMut(usize, &mut f32)) {
        let mut i = 0;
        for r in &self.ranges {
            for p in &mut full[r.clone()] {
                f(i, p);
                i += 1;
            }
        }
    }
}

/// What makes candidate `k` from the generation's base parameters (already in the buffer):
/// CEM and CMA-ES write a sampled row, ES adds its seeded noise.
pub type Candidate<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

/// One candidate's episodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The mean return of its episodes.
    pub fitness: f64,
    pub steps: u64,
    /// `(return, length)` of each episode.
    pub episodes: Vec<(f64, u64)>,
    /// The raw observations it acted on, `[steps x obs_dim]` (only when asked for).
    pub observations: Vec<f32>,
}

/// Environments for `workers` threads that play candidates.
pub struct FitnessPool {
    policy: Arc<ActorCritic>,
    envs: Vec<Box<dyn Env>>,
}

impl FitnessPool {
    pub fn new(
        policy: Arc<ActorCritic>,
        workers: usize,
        make_env: impl Fn() -> Result<Box<dyn Env>, TrainError>,
    ) -> Result<FitnessPool, TrainError> {
        let envs = (0..workers.max(1))
            .map(|_| make_env())
            .collect::<Result<_, _>>()?;
        Ok(FitnessPool { policy, envs })
    }

    pub fn workers(&self) -> usize {
        self.envs.len()
    }

    /// Plays `count` candidates, each made by `candidate` from `base`, one greedy episode per
    /// seed of `seeds`, observations normalised by `obs_stats`; `record`: keep the raw
    /// observations. Returns the outcomes in candidate order, whichever worker played them.
    pub fn evaluate(
        &mut self,
        base: &[f32],
        count: usize,
        candidate: Candidate<'_>,
        seeds: &[u64],
        obs_stats: Option<&RunningMeanStd>,
        record: bool,
    ) -> Result<Vec<Outcome>, TrainError> {
        let threads = self.envs.len().min(count).max(1);
        let policy = &*self.policy;
        let work = |w: usize, env: &mut Box<dyn Env>| -> Result<Vec<Outcome>, TrainError> {
            let mut params = base.to_vec();
            (w..count)
                .step_by(threads)
                .map(|k| {
                    params.copy_from_slice(base);
                    candidate(k, &mut params);
                    play(policy, &params, &mut **env, seeds, obs_stats, record)
                })
                .collect()
        };
        let per_worker: Vec<Result<Vec<Outcome>, TrainError>> = if threads == 1 {
            vec![work(0, &mut self.envs[0])]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = self
                    .envs
                    .iter_mut()
                    .take(threads)
                    .enumerate()
                    .map(|(w, env)| {
                        let work = &work;
                        scope.spawn(move || work(w, env))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(TrainError::Policy(
                                "a policy-search worker panicked (a bug)".into(),
                            ))
                        })
                    })
                    .collect()
            })
        };
        // Worker w played candidates w, w + threads, ...: interleave them back in order.
        let mut lists = Vec::with_capacity(threads);
        for outcomes in per_worker {
            lists.push(outcomes?.into_iter());
        }
        let mut out = Vec::with_capacity(count);
        for k in 0..count {
            if let Some(o) = lists[k % threads].next() {
                out.push(o);
            }
        }
        Ok(out)
    }
}

/// Greedy episodes of one parameter vector.
fn play(
    policy: &ActorCritic,
    params: &[f32],
    env: &mut dyn Env,
    seeds: &[u64],
    obs_stats: Option<&RunningMeanStd>,
    record: bool,
) -> Result<Outcome, TrainError> {
    let kind = policy.action_kind();
    let mut player = policy.player(params);
    let mut obs = vec![0.0; policy.obs_dim()];
    let mut action = vec![0.0; kind.action_dim()];
    let mut scratch = StepScratch::new(kind.action_dim());
    let mut outcome = Outcome::default();
    for &seed in seeds {
        env.reset(Some(seed), &mut obs)?;
        player.reset();
        let (mut ret, mut len) = (0.0, 0u64);
        loop {
            if record {
                outcome.observations.extend_from_slice(&obs);
            }
            if let Some(stats) = obs_stats {
                stats.normalize_clipped(&mut obs, NORMALIZE_EPS, NORMALIZE_CLIP);
            }
            player.act(&obs, None, &mut action);
            let step = step_env(env, kind, &action, &mut scratch, &mut obs)?;
            ret += step.reward;
            len += 1;
            if step.terminated || step.truncated {
                break;
            }
            if len >= MAX_EPISODE_STEPS {
                return Err(TrainError::Usage(format!(
                    "an episode ran for {MAX_EPISODE_STEPS} steps without ending: policy search \
                     scores whole episodes; give the environment a time limit \
                     (env_options.max_episode_steps=N)"
                )));
            }
        }
        outcome.steps += len;
        outcome.episodes.push((ret, len));
    }
    outcome.fitness = if seeds.is_empty() {
        0.0
    } else {
        outcome.episodes.iter().map(|e| e.0).sum::<f64>() / seeds.len() as f64
    };
    Ok(outcome)
}

/// Salimans et al.'s fitness shaping: each value replaced by its rank, scaled to
/// `[-0.5, 0.5]` (ties keep their order). Invariant to any increasing transform of the
/// returns, and bounded, so one lucky episode cannot dominate an update.
pub fn centered_ranks(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        ranks[i] = rank as f64 / (n - 1) as f64 - 0.5;
    }
    ranks
}

/// The search state a resumed run saved at `collectors[index]` (`None` for a fresh run).
pub fn saved_search_state<T: DeserializeOwned>(
    session: &Session,
    index: usize,
) -> Result<Option<T>, TrainError> {
    let Some(r) = &session.resume else {
        return Ok(None);
    };
    match r.state.collectors.get(index) {
        Some(Some(value)) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| {
                TrainError::Usage(format!(
                    "checkpoint {}: unreadable policy-search state: {e}",
                    r.path.display()
                ))
            }),
        _ => Err(TrainError::Usage(format!(
            "checkpoint {} holds no policy-search state: it was not written by this algorithm",
            r.path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centered_ranks_by_hand() {
        assert_eq!(centered_ranks(&[10.0, -3.0, 7.0]), vec![0.5, -0.5, 0.0]);
        assert_eq!(centered_ranks(&[1.0]), vec![0.0]);
    }
}
