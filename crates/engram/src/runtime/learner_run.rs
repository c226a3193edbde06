//! What every learner of a run across machines shares (`engram.distributed`: A3C's learner,
//! and PPO's and A2C's): the run's session and configuration (`C`: the run's whole
//! configuration, which this floor does not name), the network's size, and the version stamp
//! of the parameters the workers are sent. The learners add their own update.

use super::Session;
use crate::error::TrainError;

/// A distributed run as its learner holds it.
pub struct LearnerRun<C> {
    session: Session,
    config: C,
    num_params: usize,
    /// Updates applied so far: the version stamp of the parameters.
    version: u64,
}

impl<C> LearnerRun<C> {
    /// The run of a learner whose network has `num_params` parameters.
    pub fn new(session: Session, config: C, num_params: usize) -> LearnerRun<C> {
        LearnerRun {
            session,
            config,
            num_params,
            version: 0,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn config(&self) -> &C {
        &self.config
    }

    pub fn num_params(&self) -> usize {
        self.num_params
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Refuses a parameter or gradient buffer of the wrong size (a worker built from another
    /// configuration).
    pub fn check_len(&self, what: &str, len: usize) -> Result<(), TrainError> {
        if len != self.num_params {
            return Err(TrainError::Usage(format!(
                "a {what} buffer of {len} numbers for a network of {}: the worker was built \
                 from another configuration",
                self.num_params
            )));
        }
        Ok(())
    }

    /// Copies the current parameters into `out` with `read` and returns their version; false
    /// (and the run stops with a message) when one is not finite.
    pub fn read_params(
        &self,
        out: &mut [f32],
        read: impl FnOnce(&mut [f32]),
    ) -> Result<(u64, bool), TrainError> {
        self.check_len("parameter", out.len())?;
        read(out);
        Ok((self.version, self.session.params_are_finite(out)))
    }

    /// Records the workers' finished episodes: (return, length).
    pub fn record_episodes(&self, episodes: &[(f64, u64)]) {
        for &(episode_return, length) in episodes {
            self.session.monitor.episode_done(episode_return, length);
        }
    }

    /// Counts an update that was applied (a new version of the parameters); returns `applied`.
    pub fn count_update(&mut self, applied: bool) -> bool {
        if applied {
            self.version += 1;
        }
        applied
    }

    /// Whether training goes on (budget, stop request, failure).
    pub fn running(&self) -> bool {
        self.session.running()
    }

    /// Stops the run with `message` as its failure (the last good checkpoint is kept).
    pub fn fail(&self, message: String) {
        self.session.monitor.fail(message);
    }

    /// The session, to finish the run.
    pub fn into_session(self) -> Session {
        self.session
    }
}
