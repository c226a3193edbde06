# ONNX parity of the off-policy actors without the Python extension: onnxruntime's outputs vs
# a float64 numpy forward of the checkpoint's actor (ReLU MLP; mean clipped to [-2, 2] with
# gSDE; tanh; rescaled to the Box), on 256 random observations.
import json, struct, sys
import numpy as np, onnxruntime as ort

def load(path):
    b = open(path, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = 8 + n
    return {k: np.frombuffer(b[d + v['data_offsets'][0]:d + v['data_offsets'][1]], dtype=np.float32).reshape(v['shape'])
            for k, v in h.items() if k != '__metadata__'}

run, low, high, gsde = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
t = load(f"{run}/checkpoints/latest.safetensors")
sess = ort.InferenceSession(f"{run}/p.onnx", providers=["CPUExecutionProvider"])
obs_dim = t["actor.encoder.0.weight"].shape[1]
x = np.random.default_rng(0).normal(size=(256, obs_dim)).astype(np.float32)
got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"obs": x})))
h = x.astype(np.float64)
i = 0
while f"actor.encoder.{i}.weight" in t:
    h = np.maximum(h @ t[f"actor.encoder.{i}.weight"].T.astype(np.float64) + t[f"actor.encoder.{i}.bias"], 0)
    i += 2
if "actor.logits.weight" in t:
    logits = h @ t["actor.logits.weight"].T.astype(np.float64) + t["actor.logits.bias"]
    assert np.abs(got["logits"] - logits).max() < 1e-5, np.abs(got["logits"] - logits).max()
    assert (got["action"][:, 0] == logits.argmax(1)).all()
    print(run, "logits max diff", np.abs(got["logits"] - logits).max())
    sys.exit()
mu = h @ t["actor.mu.weight"].T.astype(np.float64) + t["actor.mu.bias"]
a = np.tanh(np.clip(mu, -2, 2) if gsde else mu)
action = low + 0.5 * (a + 1) * (high - low)
print(run, "mean max diff", np.abs(got["mean"] - mu).max(), "action max diff", np.abs(got["action"] - action).max(),
      "saturated rows", int((np.abs(mu) > 2).sum()) if gsde else "-")
assert np.abs(got["mean"] - mu).max() < 1e-5 and np.abs(got["action"] - action).max() < 1e-5
