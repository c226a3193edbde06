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
    (
        "curve_png",
        "draw curve.png at the run's end (--seeds: off per seed unless set; OUT/ gets its own)",
    ),
    (
        "episode_logs",
        "write monitor.csv and episodes.csv, a row per training episode (--seeds with a step budget: off per seed unless set; curves.csv is per step, summary.json keeps the last 100 episodes' mean)",
    ),
    // NetConfig
    ("policy", "network core: lstm | gru | mlp (no memory)"),
    ("hidden_size", "units of the LSTM/GRU core"),
    (
        "encoder_layers",
        "hidden layers of the MLP encoder before the core (for mlp: the whole network, SB3's net_arch)",
    ),
    (
        "encoder",
        "what reads observations: mlp | conv (convolutions on a [height, width, channels] image observation, e.g. MinAtar, then encoder_layers)",
    ),
    (
        "conv_filters",
        "encoder = conv: filters of each convolution, e.g. [16] (MinAtar's network)",
    ),
    ("conv_kernel", "encoder = conv: square kernel size of every convolution"),
    ("conv_stride", "encoder = conv: stride of every convolution"),
    (
        "conv_padding",
        "encoder = conv: zeros added on every side before each convolution",
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
    ("optimizer", "rmsprop (see rmsprop_style) | adam"),
    ("learning_rate", "optimizer step size"),
    (
        "lr_schedule",
        "constant | linear (decay to 0 over total_steps)",
    ),
    ("rmsprop_alpha", "RMSProp smoothing constant"),
    ("rmsprop_eps", "RMSProp epsilon"),
    (
        "rmsprop_style",
        "tf (eps inside the square root, average starts at 1: the A3C paper's, SB3's RMSpropTFLike) | torch (torch.optim.RMSprop: eps outside, starts at 0)",
    ),
    (
        "rmsprop_centered",
        "RMSProp divides by the gradient's running standard deviation (torch's centered=True)",
    ),
    ("adam_beta1", "Adam first-moment decay"),
    ("adam_beta2", "Adam second-moment decay"),
    ("adam_eps", "Adam epsilon"),
    ("max_grad_norm", "global gradient-norm clip"),
    // On-policy algorithms
    (
        "workers",
        "worker threads, each with its own environment (A3C: asynchronous learners; cem/es/cmaes: candidates played in parallel, same result for any count; default: available cores)",
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
    (
        "ent_coef",
        "entropy bonus coefficient (sac: a number, or \"auto\" / \"auto_0.1\" to learn it from 1 / 0.1)",
    ),
    (
        "reward_scale",
        "rewards are multiplied by this before learning (reports stay unscaled)",
    ),
    (
        "normalize_observations",
        "running mean/std observation normalisation shared by a collector's envs (VecNormalize; cem/es/cmaes: statistics fixed within a generation, as in Salimans et al. 2017)",
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
        "steps per minibatch (PPO recurrent: t_max times the envs per minibatch; off-policy: transitions per gradient step; r2d2: sequences)",
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
        "ppo: stop the epochs when approx KL > 1.5 * target_kl (unset = off); trpo: the trust region, the largest mean KL(new || old) of an accepted step",
    ),
    ("kl_coef", "KL-penalty coefficient beta (0 = off)"),
    ("kl_adaptive", "adapt kl_coef towards kl_target after each update"),
    ("kl_target", "target KL of the adaptive penalty"),
    // TRPO
    (
        "cg_max_steps",
        "trpo: conjugate-gradient iterations solving (F + cg_damping I) x = g",
    ),
    (
        "cg_damping",
        "trpo: added to the Fisher's diagonal (>= 0), steadying CG",
    ),
    (
        "line_search_shrinking_factor",
        "trpo: the step is multiplied by this after each rejected line-search try, in (0, 1)",
    ),
    ("line_search_max_iter", "trpo: line-search tries before the step is dropped"),
    (
        "n_critic_updates",
        "trpo: passes of minibatch steps on the critic per rollout",
    ),
    // Off-policy (DQN family)
    (
        "buffer_size",
        "replay buffer capacity in transitions (memory: about 4 * (2 * obs_dim + 4) bytes each); r2d2: in sequences",
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
        "update the target network every this many env steps (sac: gradient steps)",
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
    // R2D2 / DRQN
    (
        "sequence_length",
        "steps per replayed sequence, burn-in included (R2D2: 80)",
    ),
    (
        "sequence_overlap",
        "steps consecutive sequences of an episode share (-1 = half of sequence_length)",
    ),
    (
        "burn_in",
        "steps at a sequence's start that only warm the stored state up (no gradient); not for sequences that start an episode",
    ),
    (
        "stored_state",
        "start each replayed sequence from the actor's stored state (false: zero state, DRQN)",
    ),
    (
        "value_rescaling",
        "targets under h(x) = sign(x)(sqrt(|x|+1)-1) + 1e-3 x (R2D2)",
    ),
    (
        "priority_eta",
        "a sequence's priority: eta * max |td| + (1 - eta) * mean |td| over its trained steps",
    ),
    (
        "save_replay_buffer",
        "store the replay buffer in checkpoints (exact resume; as large as the buffer)",
    ),
    // SAC, TD3, DDPG
    (
        "target_entropy",
        "sac: entropy the learned ent_coef aims at (unset = -dim(A); discrete: target_entropy_scale * ln |A|)",
    ),
    (
        "target_entropy_scale",
        "discrete sac: the default target_entropy is this times ln |A| (CleanRL 0.89; paper 0.98)",
    ),
    ("n_critics", "Q-networks of clipped double Q (the minimum is the target)"),
    (
        "actor_layers",
        "hidden layers of the actor (SB3's net_arch pi); [] = encoder_layers",
    ),
    (
        "critic_layers",
        "hidden layers of each critic (SB3's net_arch qf); [] = encoder_layers",
    ),
    (
        "action_noise",
        "exploration noise added to actions in [-1, 1]: none | normal | ornstein-uhlenbeck",
    ),
    ("noise_std", "standard deviation of the action noise, in [-1, 1] action units"),
    ("ou_theta", "Ornstein-Uhlenbeck noise: mean reversion rate theta (dt = 0.01)"),
    (
        "use_sde_at_warmup",
        "sac with use_sde: act with gSDE instead of uniform random actions before learning_starts",
    ),
    (
        "use_expln",
        "sac with use_sde: gSDE's std is ln(1 + x) + 1 above log_std 0 instead of exp (SB3's use_expln)",
    ),
    ("policy_delay", "td3: update actor and targets every this many critic updates"),
    (
        "target_policy_noise",
        "td3: std of the Gaussian noise smoothing the target policy's actions",
    ),
    ("target_noise_clip", "td3: the target smoothing noise is clipped to +-this"),
    // REINFORCE
    ("baseline", "subtract a learned value baseline V(s_t)"),
    (
        "reward_to_go",
        "weight each step by the return from that step on (else by the episode's return)",
    ),
    // Policy search (CEM, ES, CMA-ES)
    (
        "population",
        "candidates per generation (cmaes: unset = 4 + floor(3 ln N) for N searched parameters)",
    ),
    (
        "sigma",
        "search noise: initial std of the Gaussian (cem, cmaes's step size sigma0) or es's fixed perturbation std",
    ),
    (
        "episodes_per_candidate",
        "greedy episodes that score one candidate (their mean return); all candidates of a generation play the same starts",
    ),
    ("elite_frac", "cem: fraction of the population the Gaussian is refitted to, in (0, 1)"),
    (
        "extra_noise",
        "cem: variance added after each refit, fading linearly to 0 over extra_noise_generations (Szita & Lőrincz 2006)",
    ),
    ("extra_noise_generations", "cem: generations over which extra_noise fades to 0"),
    (
        "antithetic",
        "es: mirrored sampling, each noise eps played as +sigma eps and -sigma eps (population must be even)",
    ),
    (
        "weight_decay",
        "es: L2 coefficient, the optimizer ascends g - weight_decay * theta",
    ),
    (
        "separable",
        "cmaes: diagonal covariance (sep-CMA); unset = above 200 searched parameters",
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
