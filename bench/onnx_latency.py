"""Latency of one greedy step of an exported policy: onnxruntime (one thread) against engram's
own forward through the Python binding, batch 1 and batch 64, for an MLP and an LSTM policy.

    target/pyvenv/bin/pip install onnxruntime
    target/pyvenv/bin/python bench/onnx_latency.py
"""

import tempfile
import time

import numpy as np
import onnxruntime as ort

import engram


def per_call_us(fn, repeats=2000):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def main():
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    print("| policy | batch | onnxruntime us/call | engram forward us/call | model bytes |")
    print("|---|---|---|---|---|")
    for name, model in [
        ("PPO MLP 64-64 (CartPole)", engram.PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64)),
        ("A3C LSTM 64 (CartPole)", engram.A3C("LstmPolicy", "CartPole-v1", workers=1)),
    ]:
        model.learn(256)
        path = tempfile.mktemp(suffix=".onnx")
        model.export_onnx(path)
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        policy = model.policy
        state_dim = policy.state_dim()
        for batch in (1, 64):
            obs = np.random.default_rng(0).normal(size=(batch, 4)).astype(np.float32)
            state = np.zeros((batch, state_dim), np.float32)
            feeds = {"obs": obs}
            if state_dim:
                feeds["state_in"] = state
            starts = np.zeros(batch, dtype=bool)
            t_ort = per_call_us(lambda: session.run(None, feeds))
            t_engram = per_call_us(lambda: policy.forward(obs, state, starts))
            size = len(open(path, "rb").read())
            print(f"| {name} | {batch} | {t_ort:.1f} | {t_engram:.1f} | {size:,} |")


if __name__ == "__main__":
    main()
