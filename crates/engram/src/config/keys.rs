//! One line of documentation per configuration key, for `engram algos NAME` and the docs.
//! Every key of every section (and of every algorithm's `Config`) is documented here once,
//! whichever sections or algorithms share it; a test keeps this table and the fields in step.

/// `(key, documentation)`.
pub const KEY_DOCS: &[(&str, &str)] = &[
    // CommonConfig
    ("env", "environment id (`engram envs` lists them)"),
    (
        "env_options",
        "keyword options of the environment, e.g. --set env_options.is_slippery=false",
    ),
    ("algo", "the algorithm (`engram algos` lists them)"),
    ("seed", "master seed: workers and environments use seed + index"),
    (
        "total_steps",
        "environment steps to train for, all workers and environments together",
    ),
    (
        "total_episodes",
        "training episodes to train for (unset = no episode budget); with total_steps too, the first budget reached stops the run",
    ),
    (
        "eval_interval",
        "greedy evaluation every this many env steps (0 = never)",
    ),
    ("eval_episodes", "episodes per evaluation"),
    ("log_interval", "a metrics row every this many env steps"),
    (
        "checkpoint_interval",
        "save the latest checkpoint every this many env steps",
    ),
    (
        "stop_at_threshold",
        "stop once the 100-episode training mean reaches the env's reward threshold",
    ),
    (
        "tensorboard",
        "write TensorBoard event files (tb/) of metrics.csv and evals.csv; false = CSV only",
    ),
    // NetConfig
    ("policy", "network core: lstm | gru | mlp (no memory)"),
    ("hidden_size", "units of the LSTM/GRU core"),
    (
        "encoder_layers",
        "hidden layers of the MLP encoder before the core (for mlp: the whole network, SB3's net_arch)",
    ),
    ("activation", "hidden-layer activation: tanh | relu | elu"),
    (
        "discrete_encoding",
        "discrete observations: onehot | embedding",
    ),
    ("embedding_dim", "embedding width for discrete observations"),
    (
        "ortho_init",
        "orthogonal init of encoder and heads (SB3); false = fan-in uniform weights, zero biases",
    ),
    // ActorCriticConfig
    (
        "separate_critic",
        "the critic gets its own encoder and core instead of sharing the actor's",
    ),
    (
        "log_std_init",
        "continuous actions: initial log-std of the Gaussian (or of gSDE's matrix)",
    ),
    (
        "use_sde",
        "continuous actions: generalized state-dependent exploration (gSDE, Raffin et al. 2021)",
    ),
    (
        "sde_sample_freq",
        "gSDE: redraw the exploration matrix every n steps (-1 = per rollout; REINFORCE: per episode)",
    ),
    // OptimConfig
    ("optimizer", "rmsprop (TF-style, the A3C paper's) | adam"),
    ("learning_rate", "optimizer step size"),
    (
        "lr_schedule",
        "constant | linear (decay to 0 over total_steps)",
    ),
    ("rmsprop_alpha", "RMSProp smoothing constant"),
    ("rmsprop_eps", "RMSProp epsilon"),
    ("adam_beta1", "Adam first-moment decay"),
    ("adam_beta2", "Adam second-moment decay"),
    ("adam_eps", "Adam epsilon"),
    ("max_grad_norm", "global gradient-norm clip"),
    // On-policy algorithms
    (
        "workers",
        "A3C worker threads, each with its own environment (default: available cores)",
    ),
    (
        "n_envs",
        "environments stepped in lockstep, one batched update per rollout",
    ),
    (
        "episodes_per_update",
        "whole episodes played per update",
    ),
    (
        "shared_optimizer_stats",
        "one set of RMSProp/Adam statistics shared by all workers (the A3C paper's best variant)",
    ),
    (
        "t_max",
        "rollout length per environment between updates (SB3's n_steps; the n of the n-step return)",
    ),
    ("gamma", "discount factor"),
    ("gae_lambda", "GAE lambda; 1.0 = plain n-step advantage"),
    (
        "vf_coef",
        "weight of the value loss 0.5*mean((V-R)^2) (SB3's c is engram's 2c)",
    ),
    ("ent_coef", "entropy bonus coefficient"),
    (
        "reward_scale",
        "rewards are multiplied by this before learning (reports stay unscaled)",
    ),
    (
        "normalize_observations",
        "running mean/std observation normalisation shared by a collector's envs (VecNormalize)",
    ),
    (
        "normalize_rewards",
        "scale rewards by the running std of the discounted return (VecNormalize)",
    ),
    (
        "normalize_advantage",
        "normalise advantages (PPO: per minibatch)",
    ),
    // PPO
    ("n_epochs", "passes over each rollout"),
    (
        "batch_size",
        "steps per minibatch (PPO recurrent: t_max times the envs per minibatch; off-policy: transitions per gradient step)",
    ),
    ("clip_range", "surrogate clip range epsilon"),
    (
        "clip_range_schedule",
        "constant | linear (decay to 0 over total_steps)",
    ),
    (
        "clip_range_vf",
        "value clipping around the rollout's values (unset = off)",
    ),
    (
        "target_kl",
        "stop the epochs when approx KL > 1.5 * target_kl (unset = off)",
    ),
    ("kl_coef", "KL-penalty coefficient beta (0 = off)"),
    ("kl_adaptive", "adapt kl_coef towards kl_target after each update"),
    ("kl_target", "target KL of the adaptive penalty"),
    // Off-policy (DQN family)
    (
        "buffer_size",
        "replay buffer capacity in transitions (memory: about 4 * (2 * obs_dim + 4) bytes each)",
    ),
    (
        "learning_starts",
        "env steps of uniformly random actions before learning starts",
    ),
    (
        "tau",
        "target network update: Polyak coefficient in (0, 1]; 1 = hard copy",
    ),
    (
        "train_freq",
        "collect this many steps (or episodes, see train_freq_unit) between gradient phases",
    ),
    ("train_freq_unit", "step | episode"),
    (
        "gradient_steps",
        "gradient steps after each collection (-1 = as many as env steps collected)",
    ),
    (
        "target_update_interval",
        "update the target network every this many env steps",
    ),
    (
        "exploration_fraction",
        "fraction of total_steps over which epsilon decays linearly",
    ),
    ("exploration_initial_eps", "epsilon at the start"),
    ("exploration_final_eps", "epsilon after the decay"),
    (
        "double_q",
        "Double DQN: the online network picks the next action, the target evaluates it",
    ),
    (
        "dueling",
        "dueling heads: Q = V + A - mean(A)",
    ),
    (
        "prioritized",
        "proportional prioritized replay (sum-tree; new transitions at max priority)",
    ),
    ("per_alpha", "prioritized replay: priority exponent alpha"),
    (
        "per_beta0",
        "prioritized replay: initial importance-sampling exponent, annealed linearly to 1",
    ),
    ("per_eps", "prioritized replay: added to |TD error| so no priority is zero"),
    (
        "n_step",
        "n-step returns (1 = the one-step target); windows stop at episode ends",
    ),
    (
        "save_replay_buffer",
        "store the replay buffer in checkpoints (exact resume; as large as the buffer)",
    ),
    // REINFORCE
    ("baseline", "subtract a learned value baseline V(s_t)"),
    (
        "reward_to_go",
        "weight each step by the return from that step on (else by the episode's return)",
    ),
    // TabularConfig (sampling tabular methods and bandits)
    (
        "alpha",
        "step size of the value updates (0 = sample averages, 1/n of the visits); the gradient bandit's preference step, which may exceed 1",
    ),
    ("q_init", "initial action values (optimistic initial values when high)"),
    (
        "exploration",
        "epsilon-greedy | boltzmann | ucb | gradient (gradient: bandit only)",
    ),
    ("epsilon", "probability of a uniformly random action (epsilon-greedy)"),
    (
        "epsilon_decay",
        "epsilon is multiplied by this after each episode (1 = constant)",
    ),
    ("epsilon_min", "the floor of the decayed epsilon"),
    ("temperature", "Boltzmann exploration: softmax temperature"),
    ("ucb_c", "UCB: exploration weight c of c * sqrt(ln t / N)"),
    (
        "count_bonus",
        "count-based bonus beta / sqrt(N(s, a) + 1) added to the values actions are chosen by",
    ),
    (
        "gradient_baseline",
        "gradient bandit: compare rewards with their running mean",
    ),
    // Tabular methods
    (
        "theta",
        "dynamic programming: stop once a sweep changes no value by more than theta",
    ),
    (
        "in_place",
        "dynamic programming: update values in place during a sweep (false: synchronous)",
    ),
    (
        "eval_sweeps",
        "policy iteration: evaluation sweeps per improvement (0 = until theta; >0: modified PI)",
    ),
    (
        "policy_file",
        "the policy to evaluate: JSON with \"policy\" (values.json's) or \"probabilities\"; unset = uniform random",
    ),
    ("v_init", "initial state values"),
    (
        "mode",
        "mc: prediction | control (epsilon-soft) | exploring-starts | off-policy (weighted importance sampling)",
    ),
    ("first_visit", "mc: first-visit (true) or every-visit (false) averaging"),
    (
        "max_episode_length",
        "mc: cut an episode after this many steps (greedy policies can loop forever)",
    ),
    ("planning_steps", "dyna-q: simulated updates from the learned model per real step"),
    (
        "kappa",
        "dyna-q: Dyna-Q+ bonus kappa * sqrt(steps since the pair was tried) (0 = Dyna-Q)",
    ),
];

/// The documentation of `key`.
pub fn doc(key: &str) -> Option<&'static str> {
    KEY_DOCS.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}
