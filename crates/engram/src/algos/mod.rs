//! The algorithms, one file each, and the registry that is the only place naming them all.
//!
//! Adding an algorithm = one file here (its `NAME`, `DESCRIPTION`, `ACTOR_CRITIC`, `Config`
//! with `validate` and an [`Algorithm`] impl, and `run`), one line in [`registry!`] below, and one tuned table in
//! `tuned/NAME.toml` (rl-zoo style: `[defaults]` for every environment, then one table per
//! environment id). Its keys are documented in `crate::config::keys`.
//!
//! A run's configuration is a [`RunConfig`]: the shared sections plus the algorithm's own
//! `Config`, written and read as one flat table of keys.

pub mod a2c;
pub mod a3c;
pub mod bandit;
pub mod cem;
pub mod cmaes;

pub mod ddpg;
pub mod double_q_learning;
pub mod dqn;
pub mod dyna_q;
pub mod es;
pub mod expected_sarsa;
pub mod mc;
pub mod policy_evaluation;
pub mod policy_iteration;
pub mod ppo;
pub mod q_learning;
pub mod r2d2;
pub mod reinforce;
pub mod remote;
pub mod sac;
pub mod sarsa;
pub mod td0;
pub mod trpo;

pub mod td3;
pub mod value_iteration;

use crate::agent::{Act, ActorCritic};
use crate::config::{
    field_names, invalid, merge_section, parse_assignment, read_table, to_table, ActorCriticConfig,
    CommonConfig, ConfigError, NetConfig, OptimConfig, TabularConfig,
};
use crate::error::TrainError;
use crate::runtime::{Session, StopReason};
use crate::search::PolicySearch;
use engram_env::{Env, Space};
use std::any::Any;
use std::path::Path;
use std::sync::Arc;

/// What an algorithm is to the rest of engram.
#[derive(Debug)]
pub struct AlgoSpec {
    pub name: &'static str,
    /// One line for `engram algos`.
    pub description: &'static str,
    /// The tuned table, TOML.
    pub tuned: &'static str,
    /// Its agent is the actor-critic: the [`ActorCriticConfig`] keys apply.
    pub actor_critic: bool,
    /// It trains a network: the [`NetConfig`] keys apply.
    pub network: bool,
    /// It trains a network by gradient steps: the [`OptimConfig`] keys apply too.
    pub gradient: bool,
    /// A sampling tabular method: the [`TabularConfig`] keys (step size, exploration) apply.
    pub explores: bool,
    /// An environment it runs on as it is (tests and examples use it).
    pub example_env: &'static str,
    /// The keys of its own `Config`.
    pub keys: fn() -> &'static [&'static str],
}

macro_rules! registry {
    ($($variant:ident => $module:ident),* $(,)?) => {
        /// The algorithm's own options.
        #[derive(Clone, Debug, PartialEq)]
        pub enum AlgoConfig {
            $($variant($module::Config),)*
        }

        /// Every algorithm, in the order `engram algos` lists them.
        pub static REGISTRY: &[AlgoSpec] = &[$(AlgoSpec {
            name: $module::NAME,
            description: $module::DESCRIPTION,
            tuned: include_str!(concat!("tuned/", stringify!($module), ".toml")),
            actor_critic: $module::ACTOR_CRITIC,
            network: <$module::Config as Algorithm>::NETWORK,
            gradient: <$module::Config as Algorithm>::NETWORK && <$module::Config as Algorithm>::GRADIENT,
            explores: <$module::Config as Algorithm>::EXPLORES,
            example_env: <$module::Config as Algorithm>::EXAMPLE_ENV,
            keys: field_names::<$module::Config>,
        },)*];

        impl AlgoConfig {
            fn default_for(name: &str) -> Option<AlgoConfig> {
                match name {
                    $($module::NAME => Some(AlgoConfig::$variant(Default::default())),)*
                    _ => None,
                }
            }

            fn to_table(&self) -> toml::Table {
                match self {
                    $(AlgoConfig::$variant(c) => to_table(c),)*
                }
            }

            fn merge(&mut self, overlay: toml::Table, origin: &str) -> Result<(), ConfigError> {
                match self {
                    $(AlgoConfig::$variant(c) => merge_section(c, overlay, origin),)*
                }
            }

            fn validate(&self, rc: &RunConfig) -> Result<(), ConfigError> {
                match self {
                    $(AlgoConfig::$variant(c) => c.validate(rc),)*
                }
            }

            fn as_any_mut(&mut self) -> &mut dyn Any {
                match self {
                    $(AlgoConfig::$variant(c) => c,)*
                }
            }

            fn as_any(&self) -> &dyn Any {
                match self {
                    $(AlgoConfig::$variant(c) => c,)*
                }
            }

            /// Checks the configuration against the environment's spaces (before a run
            /// directory exists).
            pub fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
                match self {
                    $(AlgoConfig::$variant(c) => c.check(rc, probe),)*
                }
            }

            /// The agent this algorithm trains, on `probe`'s spaces (to play a checkpoint).
            pub fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
                match self {
                    $(AlgoConfig::$variant(c) => c.agent(rc, probe),)*
                }
            }

            /// The threads one run keeps busy (A3C: its workers), for the multi-seed runner's
            /// pool.
            pub fn threads(&self) -> usize {
                match self {
                    $(AlgoConfig::$variant(c) => c.threads(),)*
                }
            }

            /// Runs the algorithm's loop.
            pub fn run(&self, session: Session, rc: &RunConfig) -> Result<StopReason, TrainError> {
                match self {
                    $(AlgoConfig::$variant(c) => $module::run(session, rc, c),)*
                }
            }
        }
    };
}

registry! {
    A3c => a3c,
    A2c => a2c,
    Ppo => ppo,
    Trpo => trpo,
    Reinforce => reinforce,
    Dqn => dqn,
    R2d2 => r2d2,
    Cem => cem,
    Es => es,
    Cmaes => cmaes,

    Sac => sac,
    Td3 => td3,
    Ddpg => ddpg,
    PolicyEvaluation => policy_evaluation,
    ValueIteration => value_iteration,
    PolicyIteration => policy_iteration,
    Mc => mc,
    Td0 => td0,
    Sarsa => sarsa,
    ExpectedSarsa => expected_sarsa,
    QLearning => q_learning,
    DoubleQLearning => double_q_learning,
    DynaQ => dyna_q,
    Bandit => bandit,
}

/// The algorithm called `name`, or an error listing the valid names.
pub fn spec(name: &str) -> Result<&'static AlgoSpec, ConfigError> {
    let lower = name.to_ascii_lowercase();
    REGISTRY.iter().find(|s| s.name == lower).ok_or_else(|| {
        let names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
        invalid(
            "algo",
            format!(
                "unknown algorithm `{name}`; valid choices: {}",
                names.join(", ")
            ),
        )
    })
}

/// Every setting of a run: the shared sections and the algorithm's own options.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub common: CommonConfig,
    pub net: NetConfig,
    /// Used, listed and accepted only by actor-critic algorithms.
    pub ac: ActorCriticConfig,
    pub optim: OptimConfig,
    /// Used, listed and accepted only by sampling tabular methods.
    pub tab: TabularConfig,
    pub algo: AlgoConfig,
}

/// Which section a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Common,
    Net,
    ActorCritic,
    Optim,
    Tabular,
    Algo,
}

impl RunConfig {
    /// `algo`'s defaults on `env`, without its tuned table.
    pub fn new(algo: &str, env: &str) -> Result<RunConfig, ConfigError> {
        let spec = spec(algo)?;
        let algo_config = AlgoConfig::default_for(spec.name)
            .ok_or_else(|| invalid("algo", format!("`{algo}` has no configuration (internal)")))?;
        Ok(RunConfig {
            common: CommonConfig {
                env: env.to_string(),
                algo: spec.name.to_string(),
                ..CommonConfig::default()
            },
            net: NetConfig::default(),
            ac: ActorCriticConfig::default(),
            optim: OptimConfig::default(),
            tab: TabularConfig::default(),
            algo: algo_config,
        })
    }

    /// `algo`'s defaults overlaid with its tuned table: `[defaults]`, then the entry for
    /// `env` if there is one.
    pub fn tuned(algo: &str, env: &str) -> Result<RunConfig, ConfigError> {
        let mut config = RunConfig::new(algo, env)?;
        let spec = config.spec();
        let table: toml::Table = toml::from_str(spec.tuned).map_err(|e| {
            ConfigError::Parse(format!("tuned/{}.toml: {}", spec.name, e.message()))
        })?;
        if let Some(toml::Value::Table(defaults)) = table.get("defaults") {
            config.merge_table(
                defaults.clone(),
                &format!("tuned/{}.toml [defaults]", spec.name),
            )?;
        }
        if let Some(toml::Value::Table(entry)) = table.get(env) {
            config.merge_table(
                entry.clone(),
                &format!("tuned/{}.toml [\"{env}\"]", spec.name),
            )?;
        }
        Ok(config)
    }

    /// Whether `algo` has a tuned entry for `env`.
    pub fn has_tuned_entry(algo: &str, env: &str) -> bool {
        spec(algo)
            .ok()
            .and_then(|s| toml::from_str::<toml::Table>(s.tuned).ok())
            .is_some_and(|t| t.contains_key(env))
    }

    /// A run's whole configuration from its flat table (a run directory's `config.toml`):
    /// the algorithm's defaults, then every key of the table.
    pub fn from_table(table: toml::Table, origin: &str) -> Result<RunConfig, ConfigError> {
        let get = |key: &str| -> Result<String, ConfigError> {
            table
                .get(key)
                .and_then(|v| v.as_str())
                .map(String::from)
                .ok_or_else(|| ConfigError::Parse(format!("{origin}: `{key}` is missing")))
        };
        let mut config = RunConfig::new(&get("algo")?, &get("env")?)?;
        config.merge_table(table, origin)?;
        Ok(config)
    }

    /// Reads a run's `config.toml`.
    pub fn from_file(path: &Path) -> Result<RunConfig, ConfigError> {
        RunConfig::from_table(read_table(path)?, &path.display().to_string())
    }

    pub fn spec(&self) -> &'static AlgoSpec {
        // `algo` was looked up in the registry when this config was made, and cannot change.
        spec(&self.common.algo).unwrap_or(&REGISTRY[0])
    }

    /// The algorithm's own options, if they are of type `T` (`rc.algo::<ppo::Config>()`).
    pub fn algo<T: 'static>(&self) -> Option<&T> {
        self.algo.as_any().downcast_ref()
    }

    pub fn algo_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.algo.as_any_mut().downcast_mut()
    }

    fn owner(&self, key: &str) -> Option<Owner> {
        let spec = self.spec();
        if field_names::<CommonConfig>().contains(&key) {
            Some(Owner::Common)
        } else if spec.network && field_names::<NetConfig>().contains(&key) {
            Some(Owner::Net)
        } else if spec.actor_critic && field_names::<ActorCriticConfig>().contains(&key) {
            Some(Owner::ActorCritic)
        } else if spec.gradient && field_names::<OptimConfig>().contains(&key) {
            Some(Owner::Optim)
        } else if spec.explores && field_names::<TabularConfig>().contains(&key) {
            Some(Owner::Tabular)
        } else if (spec.keys)().contains(&key) {
            Some(Owner::Algo)
        } else {
            None
        }
    }

    /// Every key of this run's configuration, section by section.
    pub fn keys(&self) -> Vec<&'static str> {
        let spec = self.spec();
        let mut keys: Vec<&'static str> = Vec::new();
        keys.extend(field_names::<CommonConfig>());
        if spec.network {
            keys.extend(field_names::<NetConfig>());
        }
        if spec.actor_critic {
            keys.extend(field_names::<ActorCriticConfig>());
        }
        if spec.gradient {
            keys.extend(field_names::<OptimConfig>());
        }
        if spec.explores {
            keys.extend(field_names::<TabularConfig>());
        }
        keys.extend((spec.keys)());
        keys
    }

    /// The error for a key no section of this run owns: another algorithm's option, or a typo.
    fn unknown_key(&self, key: &str, origin: &str) -> ConfigError {
        let algo = &self.common.algo;
        let spec = self.spec();
        let network_key = field_names::<NetConfig>().contains(&key)
            || field_names::<OptimConfig>().contains(&key);
        if !spec.network && network_key {
            return invalid(
                key,
                format!(
                    "{algo} is a tabular method: it has no network or optimizer, so `{key}` does not \
                     apply (its step size is `alpha`; `engram algos {algo}` lists its options) [{origin}]"
                ),
            );
        }
        if spec.network && !spec.gradient && field_names::<OptimConfig>().contains(&key) {
            return invalid(
                key,
                format!(
                    "{algo} is a gradient-free policy search: it has no optimizer, so `{key}` does \
                     not apply (`engram algos {algo}` lists its options; es takes an optimizer) [{origin}]"
                ),
            );
        }
        let mut owners: Vec<&str> = REGISTRY
            .iter()
            .filter(|s| {
                (s.keys)().contains(&key)
                    || (s.actor_critic && field_names::<ActorCriticConfig>().contains(&key))
                    || (s.explores && field_names::<TabularConfig>().contains(&key))
            })
            .map(|s| s.name)
            .collect();
        owners.dedup();
        if owners.len() > 6 {
            owners.truncate(6);
            owners.push("...");
        }
        if !owners.is_empty() {
            return invalid(
                key,
                format!(
                    "{key} is an option of {}; this run uses {algo} (`engram algos {algo}` lists its options) [{origin}]",
                    owners.join(", ")
                ),
            );
        }
        let keys = self.keys();
        let closest = keys
            .iter()
            .map(|k| (strsim::jaro_winkler(k, key), *k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        ConfigError::Parse(format!(
            "{origin}: unknown field `{key}`{closest}. Valid keys for {algo}: {}",
            keys.join(", ")
        ))
    }

    /// Overlays a flat table of keys, each routed to the section that owns it.
    pub fn merge_table(&mut self, overlay: toml::Table, origin: &str) -> Result<(), ConfigError> {
        let mut parts: [(Owner, toml::Table); 6] = [
            (Owner::Common, toml::Table::new()),
            (Owner::Net, toml::Table::new()),
            (Owner::ActorCritic, toml::Table::new()),
            (Owner::Optim, toml::Table::new()),
            (Owner::Tabular, toml::Table::new()),
            (Owner::Algo, toml::Table::new()),
        ];
        for (key, value) in overlay {
            if key == "algo" {
                let same = value
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(&self.common.algo));
                if !same {
                    return Err(invalid(
                        "algo",
                        format!(
                            "this configuration is for {}; choose the algorithm with --algo (got {value} from {origin})",
                            self.common.algo
                        ),
                    ));
                }
                continue;
            }
            let owner = self
                .owner(&key)
                .ok_or_else(|| self.unknown_key(&key, origin))?;
            if let Some((_, table)) = parts.iter_mut().find(|(o, _)| *o == owner) {
                table.insert(key, value);
            }
        }
        for (owner, table) in parts {
            match owner {
                Owner::Common => merge_section(&mut self.common, table, origin)?,
                Owner::Net => merge_section(&mut self.net, table, origin)?,
                Owner::ActorCritic => merge_section(&mut self.ac, table, origin)?,
                Owner::Optim => merge_section(&mut self.optim, table, origin)?,
                Owner::Tabular => merge_section(&mut self.tab, table, origin)?,
                Owner::Algo => self.algo.merge(table, origin)?,
            }
        }
        Ok(())
    }

    /// Applies one `key=value` (`env_options.is_slippery=false` sets an environment option).
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let overlay = parse_assignment(assignment)?;
        self.merge_table(overlay, &format!("--set {assignment}"))
    }

    /// Overlays the keys present in a TOML file.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        self.merge_table(read_table(path)?, &path.display().to_string())
    }

    /// The flat table of every key (unset optional keys are absent).
    pub fn to_table(&self) -> toml::Table {
        let spec = self.spec();
        let mut t = to_table(&self.common);
        if spec.network {
            t.extend(to_table(&self.net));
        }
        if spec.actor_critic {
            t.extend(to_table(&self.ac));
        }
        if spec.gradient {
            t.extend(to_table(&self.optim));
        }
        if spec.explores {
            t.extend(to_table(&self.tab));
        }
        t.extend(self.algo.to_table());
        t
    }

    /// `config.toml`'s text: one block per section, the environment options last (a TOML
    /// table ends the keys above it).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let text = |table: &toml::Table| {
            toml::to_string(table)
                .map_err(|e| ConfigError::Parse(format!("cannot write the config as TOML: {e}")))
        };
        let mut common = to_table(&self.common);
        let options = common.remove("env_options");
        let spec = self.spec();
        let mut sections = vec![("run", common)];
        if spec.network {
            sections.push(("network", to_table(&self.net)));
        }
        if spec.actor_critic {
            sections.push(("actor-critic policy", to_table(&self.ac)));
        }
        if spec.gradient {
            sections.push(("optimizer", to_table(&self.optim)));
        }
        if spec.explores {
            sections.push(("step size and exploration", to_table(&self.tab)));
        }
        sections.push((spec.name, self.algo.to_table()));
        let mut out = String::new();
        for (name, table) in &sections {
            out.push_str(&format!("# {name}\n{}\n", text(table)?));
        }
        if let Some(options) = options.filter(|o| o.as_table().is_some_and(|t| !t.is_empty())) {
            let mut t = toml::Table::new();
            t.insert("env_options".into(), options);
            out.push_str(&format!("# environment options\n{}", text(&t)?));
        }
        Ok(out)
    }

    /// Checks every section; each error names the key and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let spec = self.spec();
        self.common.validate()?;
        if spec.network {
            self.net.validate()?;
        }
        if spec.gradient {
            self.optim.validate()?;
        }
        if spec.actor_critic {
            self.ac.validate()?;
        }
        if spec.explores {
            self.tab.validate()?;
            if self.tab.exploration == crate::config::ExplorationKind::Gradient
                && spec.name != bandit::NAME
            {
                return Err(invalid(
                    "exploration",
                    format!(
                        "gradient is the gradient bandit's (algo bandit); {} explores with \
                         epsilon-greedy, boltzmann or ucb",
                        spec.name
                    ),
                ));
            }
        }
        self.algo.validate(self)
    }
}

/// The most environments one process steps in lockstep.
pub const MAX_ENVS: usize = 4096;

/// The `n_envs` check every lockstep algorithm shares: at least one, at most [`MAX_ENVS`].
pub fn check_n_envs(n_envs: usize) -> Result<(), ConfigError> {
    crate::config::check::count("n_envs", n_envs, MAX_ENVS, "environments in one process")
}
/// The most steps one rollout (or one batch) holds.
pub const MAX_ROLLOUT: usize = 1_000_000;

/// The machine's available cores (A3C's default worker count).
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What the registry asks of an algorithm's `Config` besides its loop. The defaults are the
/// actor-critic's: an algorithm with another agent (DQN's Q-network) overrides both.
pub trait Algorithm {
    /// It trains a network (the network and optimizer keys apply).
    const NETWORK: bool = true;
    /// It trains the network by gradient steps (the optimizer keys apply); false for
    /// gradient-free policy search (CEM, CMA-ES).
    const GRADIENT: bool = true;
    /// A sampling tabular method (the step-size and exploration keys apply).
    const EXPLORES: bool = false;
    /// An environment it runs on as it is, for tests and examples.
    const EXAMPLE_ENV: &'static str = "CartPole-v1";

    /// Whether observations are normalised (refused for non-Box observations).
    fn normalize_observations(&self) -> bool {
        false
    }

    /// The agent this algorithm trains, on `probe`'s spaces (to play a checkpoint).
    fn agent(&self, rc: &RunConfig, probe: &dyn Env) -> Result<Arc<dyn Act>, TrainError> {
        Ok(actor_critic(rc, probe)?)
    }

    /// The threads one run keeps busy (besides the background evaluator).
    fn threads(&self) -> usize {
        1
    }

    /// Checks the configuration against the environment's spaces, before a run directory
    /// exists.
    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        check_actor_critic(rc, probe, self.normalize_observations())
    }
}

/// The check of every actor-critic algorithm: the policy builds on the spaces (gSDE needs Box
/// actions, Tuple actions are refused), and only Box observations are normalised.
pub fn check_actor_critic(
    rc: &RunConfig,
    probe: &dyn Env,
    normalize_observations: bool,
) -> Result<(), TrainError> {
    actor_critic(rc, probe)?;
    let obs_space = probe.observation_space();
    if normalize_observations && !matches!(obs_space, Space::Box { .. }) {
        return Err(TrainError::Usage(format!(
            "normalize_observations needs a Box observation space; {} has {obs_space}, whose discrete \
             parts are one-hot encoded (or embedded) instead: leave normalize_observations off",
            rc.common.env
        )));
    }
    Ok(())
}

/// Every policy search (CEM, ES, CMA-ES) answers the registry from its shared options.
impl<T: PolicySearch> Algorithm for T {
    const GRADIENT: bool = T::GRADIENT;

    fn normalize_observations(&self) -> bool {
        self.search_options().normalize_observations
    }

    fn threads(&self) -> usize {
        self.search_options().workers
    }

    fn check(&self, rc: &RunConfig, probe: &dyn Env) -> Result<(), TrainError> {
        check_policy_search(rc, probe, self.search_options().normalize_observations)
    }
}

/// The check of the policy searches (CEM, ES, CMA-ES): the actor-critic's, and greedy play,
/// which gSDE's exploration matrices play no part in.
pub fn check_policy_search(
    rc: &RunConfig,
    probe: &dyn Env,
    normalize_observations: bool,
) -> Result<(), TrainError> {
    if rc.ac.use_sde {
        return Err(TrainError::Usage(format!(
            "{} searches over greedy policies, which gSDE's exploration noise plays no part in: \
             remove use_sde (--set use_sde=false)",
            rc.common.algo
        )));
    }
    check_actor_critic(rc, probe, normalize_observations)
}

/// The actor-critic of an actor-critic algorithm's run.
pub fn actor_critic(rc: &RunConfig, probe: &dyn Env) -> Result<Arc<ActorCritic>, TrainError> {
    Ok(Arc::new(ActorCritic::new(
        probe.observation_space(),
        probe.action_space(),
        &rc.net,
        &rc.ac,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tuned_entry_loads_and_validates() {
        for spec in REGISTRY {
            let table: toml::Table = toml::from_str(spec.tuned).unwrap();
            for env in table.keys().filter(|k| *k != "defaults") {
                let c = RunConfig::tuned(spec.name, env)
                    .unwrap_or_else(|e| panic!("{}/{env}: {e}", spec.name));
                c.validate()
                    .unwrap_or_else(|e| panic!("{}/{env}: {e}", spec.name));
                assert!(
                    engram_env::registry::spec(env).is_ok(),
                    "{env} is not an env id"
                );
            }
            let c = RunConfig::tuned(spec.name, "Acrobot-v1").unwrap();
            c.validate().unwrap();
        }
    }

    #[test]
    fn config_round_trips_through_its_toml() {
        for spec in REGISTRY {
            let mut c = RunConfig::tuned(spec.name, "CartPole-v1").unwrap();
            c.set("env_options.foo=1").unwrap();
            c.set("seed=3").unwrap();
            let text = c.to_toml().unwrap();
            let back =
                RunConfig::from_table(toml::from_str(&text).unwrap(), "config.toml").unwrap();
            assert_eq!(back, c, "{}:\n{text}", spec.name);
        }
    }

    #[test]
    fn set_parses_typed_values_and_env_options() {
        let mut c = RunConfig::new("a3c", "FrozenLake-v1").unwrap();
        c.set("learning_rate=1e-3").unwrap();
        c.set("policy=gru").unwrap();
        c.set("encoder_layers=[32, 32]").unwrap();
        c.set("env_options.is_slippery=false").unwrap();
        c.set("workers=3").unwrap();
        assert_eq!(c.optim.learning_rate, 1e-3);
        assert_eq!(c.net.policy, crate::config::PolicyKind::Gru);
        assert_eq!(c.net.encoder_layers, vec![32, 32]);
        assert_eq!(
            c.common.env_options["is_slippery"],
            toml::Value::Boolean(false)
        );
        assert_eq!(c.algo::<a3c::Config>().unwrap().workers, 3);
    }

    #[test]
    fn keys_of_other_algorithms_and_typos_are_named() {
        let mut c = RunConfig::tuned("a2c", "CartPole-v1").unwrap();
        let err = c.set("clip_range=0.1").unwrap_err().to_string();
        assert!(
            err.contains("clip_range is an option of ppo; this run uses a2c"),
            "{err}"
        );
        let err = c.set("workers=2").unwrap_err().to_string();
        assert!(err.contains("option of a3c"), "{err}");
        let err = c.set("learning_rat=1e-3").unwrap_err().to_string();
        assert!(
            err.contains("unknown field `learning_rat`")
                && err.contains("did you mean `learning_rate`"),
            "{err}"
        );
        let err = c.set("n_envs=many").unwrap_err().to_string();
        assert!(err.contains("n_envs"), "{err}");
        let err = c.set("policy=transformer").unwrap_err().to_string();
        assert!(err.contains("lstm"), "{err}");
        let err = c.set("algo=ppo").unwrap_err().to_string();
        assert!(err.contains("--algo"), "{err}");
        let err = RunConfig::new("dqnn", "CartPole-v1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown algorithm `dqnn`") && err.contains("a3c"),
            "{err}"
        );
    }

    #[test]
    fn validation_rejects_bad_values_with_the_key() {
        let check = |algo: &str, set: &str, key: &str| {
            let mut c = RunConfig::tuned(algo, "CartPole-v1").unwrap();
            c.set(set).unwrap();
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{set}: {err}");
        };
        check("a3c", "workers=0", "workers");
        check("a2c", "n_envs=0", "n_envs");
        check("reinforce", "episodes_per_update=0", "episodes_per_update");
        check("a3c", "learning_rate=-1", "learning_rate");
        check("a3c", "gamma=1.5", "gamma");
        check("ppo", "t_max=0", "t_max");
        check(
            "a2c",
            "env_options.success_rate=nan",
            "env_options.success_rate",
        );
        // TOML cannot hold 2^63; the library API can, and must refuse it (config.toml could
        // not be written).
        let mut c = RunConfig::tuned("a3c", "CartPole-v1").unwrap();
        c.common.seed = 1 << 63;
        assert!(c.validate().unwrap_err().to_string().contains("`seed`"));
        assert!(RunConfig::tuned("a3c", "CartPole-v1")
            .unwrap()
            .validate()
            .is_ok());
    }

    #[test]
    fn every_key_is_documented_once_for_engram_algos() {
        use crate::config::keys::{doc, KEY_DOCS};
        let mut all = Vec::new();
        for spec in REGISTRY {
            let c = RunConfig::new(spec.name, "CartPole-v1").unwrap();
            for key in c.keys() {
                assert!(
                    doc(key).is_some(),
                    "`{key}` of {} is undocumented",
                    spec.name
                );
                all.push(key);
            }
        }
        for (key, _) in KEY_DOCS {
            assert!(all.contains(key), "KEY_DOCS lists `{key}`, which is no key");
            assert_eq!(
                KEY_DOCS.iter().filter(|(k, _)| k == key).count(),
                1,
                "`{key}` is documented twice"
            );
        }
    }
}
