#!/bin/bash
# CEM, ES and CMA-ES on Acrobot-v1 and Pendulum-v1, seeds 0-4, against rl-zoo's ARS scores
# (BENCHMARKS.md §14). The --set pairs are the tuned entries, spelled out so that any engram
# binary with the search algorithms runs the same configuration: B=path/to/engram.
cd "$(dirname "$0")/.."
B=${B:-target/release/engram}
A="--binary $B --seeds ${SEEDS:-0 1 2 3 4} --no-stop"
echo "START $(date -u +%T) $(uptime)"
nice -n 5 python3 bench/policy_search.py $A --algos cem --env Acrobot-v1 --target -82.9 --steps 500000 --eval-interval 10000 --set policy=mlp --set encoder_layers=[8] --set population=50 --set elite_frac=0.2 --set sigma=0.5 --set extra_noise=0.01 --set normalize_observations=true
nice -n 5 python3 bench/policy_search.py $A --algos es --env Acrobot-v1 --target -82.9 --steps 500000 --eval-interval 10000 --set policy=mlp --set encoder_layers=[16] --set population=40 --set sigma=0.1 --set learning_rate=0.03 --set optimizer=adam --set max_grad_norm=1e9
nice -n 5 python3 bench/policy_search.py $A --algos cmaes --env Acrobot-v1 --target -82.9 --steps 500000 --eval-interval 10000 --set policy=mlp --set encoder_layers=[8] --set sigma=0.5 --set normalize_observations=true
echo "MID $(date -u +%T) $(uptime)"
nice -n 5 python3 bench/policy_search.py $A --algos cem --env Pendulum-v1 --target -212.5 --steps 3000000 --eval-interval 20000 --set policy=mlp --set encoder_layers=[16] --set population=50 --set elite_frac=0.2 --set sigma=1.0 --set extra_noise=0.2 --set episodes_per_candidate=3 --set normalize_observations=true
nice -n 5 python3 bench/policy_search.py $A --algos es --env Pendulum-v1 --target -212.5 --steps 3000000 --eval-interval 20000 --set policy=mlp --set encoder_layers=[16] --set activation=relu --set population=20 --set sigma=0.2 --set learning_rate=0.05 --set optimizer=adam --set max_grad_norm=1e9
nice -n 5 python3 bench/policy_search.py $A --algos cmaes --env Pendulum-v1 --target -212.5 --steps 3000000 --eval-interval 20000 --set policy=mlp --set encoder_layers=[16] --set sigma=0.5 --set episodes_per_candidate=3 --set normalize_observations=true
echo "END $(date -u +%T) $(uptime)"
