# Writes gymnasium_models.json (run from the repository root with a Python that has
# gymnasium 1.4: target/pyvenv/bin/python crates/env/tests/data/gymnasium_models.py).
import gymnasium as gym, json, struct
def bits(x): return struct.unpack('<Q', struct.pack('<d', float(x)))[0]
def fnv(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h ^= b; h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
cases = [
  ("FrozenLake-v1", {}),
  ("FrozenLake-v1", {"is_slippery": False}),
  ("FrozenLake8x8-v1", {}),
  ("FrozenLake-v1", {"success_rate": 0.5, "reward_schedule": [2.0, -1.0, -0.1]}),
  ("FrozenLake-v1", {"desc": ["SFH", "FFF", "HFG"]}),
  ("CliffWalking-v1", {}),
  ("CliffWalking-v1", {"is_slippery": True}),
  ("Taxi-v4", {}),
  ("Taxi-v4", {"is_rainy": True}),
  ("Taxi-v4", {"is_rainy": True, "rainy_probability": 0.9}),
]
out = []
for env_id, kw in cases:
    env = gym.make(env_id, **kw).unwrapped
    P = env.P
    nS, nA = env.observation_space.n, env.action_space.n
    lines = []
    for s in range(nS):
        for a in range(nA):
            for (p, ns, r, t) in P[s][a]:
                lines.append(f"{s} {a} {bits(p)} {int(ns)} {bits(r)} {int(bool(t))}\n")
    text = "".join(lines)
    entry = {"env": env_id, "options": kw, "n_states": int(nS), "n_actions": int(nA),
             "entries": len(lines), "fnv1a64": str(fnv(text))}
    if env_id == "FrozenLake-v1" and not kw:
        entry["P"] = [[[[float(p), int(ns), float(r), bool(t)] for (p, ns, r, t) in P[s][a]] for a in range(nA)] for s in range(nS)]
    out.append(entry)
json.dump({"generated_by": "gymnasium " + gym.__version__ + ": env.unwrapped.P; fnv1a64 of lines 's a bits(prob) next bits(reward) terminated' (bits: IEEE-754 f64 as u64)", "models": out}, open("crates/env/tests/data/gymnasium_models.json", "w"), indent=1)
print([ (o["env"], o["entries"]) for o in out])
