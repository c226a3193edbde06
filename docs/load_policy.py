# Loads an engram A3C/A2C/REINFORCE/PPO policy (shared network, LSTM core) into PyTorch and
# plays CartPole-v1 greedily from the starts `engram eval RUN --seed S` uses.
import json, sys
import gymnasium as gym
import torch
from safetensors import safe_open
from safetensors.torch import load_file

path = sys.argv[1]                       # e.g. runs/CartPole-v1_a3c_s0/checkpoints/best.safetensors
tensors = load_file(path)
with safe_open(path, "pt") as f:
    state = json.loads(f.metadata()["engram"])["state"]
cfg = state["config"]                    # the run's flat config (config.toml)
act = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu}[cfg["activation"]]
H = cfg["hidden_size"]
lstm = torch.nn.LSTM(tensors["net.core.weight_ih"].shape[1], H)
lstm.weight_ih_l0.data = tensors["net.core.weight_ih"]
lstm.weight_hh_l0.data = tensors["net.core.weight_hh"]
lstm.bias_ih_l0.data = tensors["net.core.bias"]   # engram keeps one bias: b_ih + b_hh
lstm.bias_hh_l0.data.zero_()

def policy_logits(obs, hc):
    x = torch.as_tensor(obs, dtype=torch.float32)
    for i in range(len(cfg["encoder_layers"])):   # net.encoder.0, .2, ...: Linear then activation
        x = act(x @ tensors[f"net.encoder.{2 * i}.weight"].T + tensors[f"net.encoder.{2 * i}.bias"])
    out, hc = lstm(x.view(1, 1, -1), hc)
    return out[0, 0] @ tensors["net.pi.weight"].T + tensors["net.pi.bias"], hc

seed = int(sys.argv[2]) if len(sys.argv) > 2 else cfg["seed"]
env = gym.make(cfg["env"])
returns = []
for episode in range(5):
    obs, _ = env.reset(seed=seed * 1_000_003 + 10_000_000 + episode)   # engram's eval starts
    hc, done, ret = None, False, 0.0
    with torch.no_grad():
        while not done:
            logits, hc = policy_logits(obs, hc)
            obs, r, terminated, truncated, _ = env.step(int(logits.argmax()))
            ret, done = ret + r, terminated or truncated
    returns.append(ret)
print(returns)
