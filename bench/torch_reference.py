#!/usr/bin/env python3
"""The workloads of `engram bench` in PyTorch, to re-measure the speed ratios side by side.

Same networks, losses and optimizer as crates/engram/src/bench.rs:
obs 4 -> core (nn.LSTM / nn.GRU / 2x64 tanh MLP) -> policy logits (2) + value (1);
T = 20 steps, batch B; one episode boundary in the middle of the rollout for every row
(the recurrent state is zeroed there); policy-gradient + 0.5 * value + 0.01 * entropy-bonus
loss summed over the rollout (as the original A3C); backprop through time; one Adam step.
The acting step is one core step plus both heads under `torch.no_grad()`, batch 1.

Runs on one thread (`torch.set_num_threads(1)`): the fair comparison with engram's
single-threaded kernels, and 2 threads are much slower on a 2-core machine anyway.

    python bench/torch_reference.py            # all workloads, ~3 s each
    python bench/torch_reference.py --quick    # ~0.7 s each
    python bench/torch_reference.py --json     # one JSON object per line
    python bench/torch_reference.py --filter lstm64

Recurrent sequences are run as one nn.LSTM/nn.GRU call per episode segment (the reset step is
the same for every row here), the fastest correct way in PyTorch; `--per-step` instead loops
over steps masking the state like sb3-contrib's RecurrentPPO does when episodes start mid-sequence.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

OBS, ACTIONS, STEPS = 4, 2, 20
VALUE_COEF, ENTROPY_COEF, LEARNING_RATE = 0.5, 0.01, 1e-4


class ActorCritic(nn.Module):
    def __init__(self, core: str, hidden: int):
        super().__init__()
        self.kind = core
        if core == "lstm":
            self.core = nn.LSTM(OBS, hidden)
        elif core == "gru":
            self.core = nn.GRU(OBS, hidden)
        else:
            self.core = nn.Sequential(
                nn.Linear(OBS, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
            )
        self.policy = nn.Linear(hidden, ACTIONS)
        self.value = nn.Linear(hidden, 1)

    def zero_state(self, batch: int):
        h = self.core.hidden_size if self.kind in ("lstm", "gru") else 0
        z = torch.zeros(1, batch, h)
        return (z, z.clone()) if self.kind == "lstm" else z

    @staticmethod
    def _mask(state, keep):
        # keep: [1, B, 1], 0 where an episode starts.
        if isinstance(state, tuple):
            return tuple(s * keep for s in state)
        return state * keep

    def forward_seq(self, xs, starts, state, per_step=False):
        """xs [T, B, OBS], starts [T, B] (float 0/1). Returns logits, values, final state."""
        if self.kind == "mlp":
            feats = self.core(xs)
        elif per_step:
            outs = []
            for t in range(xs.shape[0]):
                state = self._mask(state, (1.0 - starts[t]).view(1, -1, 1))
                out, state = self.core(xs[t : t + 1], state)
                outs.append(out)
            feats = torch.cat(outs)
        else:
            # Split at the steps where (all rows') episodes start, zeroing the state there.
            cuts = [t for t in range(1, xs.shape[0]) if bool(starts[t].all())]
            assert all(
                bool(starts[t].any()) == bool(starts[t].all()) for t in range(xs.shape[0])
            ), "segment mode needs episode starts at the same step in every row; use --per-step"
            outs, begin = [], 0
            for end in cuts + [xs.shape[0]]:
                if begin > 0 or bool(starts[0].all()):
                    state = self._mask(state, torch.zeros(1, xs.shape[1], 1))
                out, state = self.core(xs[begin:end], state)
                outs.append(out)
                begin = end
            feats = torch.cat(outs)
        return self.policy(feats), self.value(feats).squeeze(-1), state

    @torch.no_grad()
    def act(self, x, state):
        if self.kind == "mlp":
            feats = self.core(x)
        else:
            feats, state = self.core(x.unsqueeze(0), state)
            feats = feats.squeeze(0)
        return self.policy(feats), self.value(feats), state


class Update:
    def __init__(self, core, hidden, batch, per_step, seed=0):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.net = ActorCritic(core, hidden)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        self.xs = torch.rand(STEPS, batch, OBS, generator=g) * 2 - 1
        self.starts = torch.zeros(STEPS, batch)
        self.starts[STEPS // 2] = 1.0
        self.actions = torch.randint(0, ACTIONS, (STEPS, batch), generator=g)
        self.returns = torch.rand(STEPS, batch, generator=g) * 2 - 1
        self.batch, self.per_step = batch, per_step

    def __call__(self):
        state = self.net.zero_state(self.batch)
        logits, values, _ = self.net.forward_seq(self.xs, self.starts, state, self.per_step)
        log_probs = torch.log_softmax(logits, dim=-1)
        taken = log_probs.gather(-1, self.actions.unsqueeze(-1)).squeeze(-1)
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        advantages = (self.returns - values).detach()
        pg = -(advantages * taken).sum()
        vf = 0.5 * ((values - self.returns) ** 2).sum()
        ent = -entropy.sum()
        loss = pg + VALUE_COEF * vf + ENTROPY_COEF * ent
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


class Act:
    def __init__(self, core, hidden, seed=0):
        torch.manual_seed(seed)
        self.net = ActorCritic(core, hidden)
        self.x = torch.rand(1, OBS) * 2 - 1
        self.state = self.net.zero_state(1)

    def __call__(self):
        logits, value, self.state = self.net.act(self.x, self.state)


class DqnUpdate:
    """SB3's DQN.train step: target max over the next observations, Q(s, a), smooth L1 (Huber),
    backward, gradient-norm clip at 10, Adam, on a [256, 256] ReLU MLP (rl-zoo's CartPole net)."""

    def __init__(self, batch, seed=0):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)

        def mlp():
            return nn.Sequential(nn.Linear(OBS, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Linear(256, ACTIONS))
        self.q, self.target = mlp(), mlp()
        self.target.load_state_dict(self.q.state_dict())
        self.opt = torch.optim.Adam(self.q.parameters(), lr=LEARNING_RATE)
        self.obs = torch.rand(batch, OBS, generator=g) * 2 - 1
        self.next_obs = torch.rand(batch, OBS, generator=g) * 2 - 1
        self.actions = torch.randint(0, ACTIONS, (batch, 1), generator=g)
        self.rewards = torch.rand(batch, 1, generator=g)
        self.dones = (torch.rand(batch, 1, generator=g) < 0.05).float()

    def __call__(self):
        with torch.no_grad():
            next_q = self.target(self.next_obs).max(dim=1)[0].reshape(-1, 1)
            target = self.rewards + (1 - self.dones) * 0.99 * next_q
        current = torch.gather(self.q(self.obs), dim=1, index=self.actions)
        loss = nn.functional.smooth_l1_loss(current, target)
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), 10.0)
        self.opt.step()


class R2d2Update:
    """One R2D2 gradient step as crates/engram/src/bench.rs's r2d2_update_lstm64_b32_t80: 32
    sequences of 80 steps (+ the bootstrap observation) each from a stored LSTM state; encoder
    Linear(4, 64) + ReLU, nn.LSTM(64, 64), dueling heads; target pass over 81 steps and online
    burn-in of 40 under no_grad, online pass over the other 41 steps with BPTT; 5-step double-Q
    targets under value rescaling h, Huber, importance weights, gradient-norm clip 10, Adam.
    (Sampling from the prioritized replay is not timed here; engram's figure includes it.)"""

    L, BURN, N, GAMMA, HID = 80, 40, 5, 0.997, 64

    class Net(nn.Module):
        def __init__(self, hid):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(OBS, hid), nn.ReLU())
            self.core = nn.LSTM(hid, hid)
            self.v, self.a = nn.Linear(hid, 1), nn.Linear(hid, ACTIONS)

        def forward(self, x, state):
            y, state = self.core(self.enc(x), state)
            a = self.a(y)
            return self.v(y) + a - a.mean(dim=-1, keepdim=True), state

    def __init__(self, batch, seed=0):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.q, self.target = self.Net(self.HID), self.Net(self.HID)
        self.target.load_state_dict(self.q.state_dict())
        self.opt = torch.optim.Adam(self.q.parameters(), lr=LEARNING_RATE)
        t, b = self.L, batch
        self.obs = torch.rand(t + 1, b, OBS, generator=g) * 2 - 1
        self.actions = torch.randint(0, ACTIONS, (t, b, 1), generator=g)
        self.rewards = torch.rand(t, b, generator=g)
        self.state = tuple(torch.rand(1, b, self.HID, generator=g) - 0.5 for _ in range(2))
        self.weights = torch.rand(b, generator=g)

    @staticmethod
    def h(x, eps=1e-3):
        return torch.sign(x) * (torch.sqrt(x.abs() + 1) - 1) + eps * x

    @staticmethod
    def h_inv(x, eps=1e-3):
        return torch.sign(x) * (((torch.sqrt(1 + 4 * eps * (x.abs() + 1 + eps)) - 1) / (2 * eps)) ** 2 - 1)

    def __call__(self):
        burn, t, n = self.BURN, self.L, self.N
        with torch.no_grad():
            tq, _ = self.target(self.obs, self.state)
            _, s = self.q(self.obs[:burn], self.state)
        oq, _ = self.q(self.obs[burn:], s)
        with torch.no_grad():
            steps = torch.arange(burn, t)
            k = torch.clamp(t - steps, max=n)
            ret = torch.zeros(t - burn, oq.shape[1])
            for i in range(n):
                idx = torch.clamp(steps + i, max=t - 1)
                ret += torch.where((i < k)[:, None], self.GAMMA ** i * self.rewards[idx], 0.0)
            boot = steps + k
            best = oq[boot - burn].argmax(dim=-1, keepdim=True)
            v = tq[boot].gather(-1, best).squeeze(-1)
            y = self.h(ret + (self.GAMMA ** k.float())[:, None] * self.h_inv(v))
        q_sa = oq[:t - burn].gather(-1, self.actions[burn:]).squeeze(-1)
        td = q_sa - y
        loss = (nn.functional.smooth_l1_loss(q_sa, y, reduction="none") * self.weights).mean()
        with torch.no_grad():
            a = td.abs()
            priorities = 0.9 * a.max(dim=0)[0] + 0.1 * a.mean(dim=0)
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), 10.0)
        self.opt.step()
        return priorities


class SacUpdate:
    """SB3's SAC.train step, batch 256, on Pendulum-sized data (obs 3, action 1): actor
    (squashed Gaussian, [256, 256] ReLU, mean and clamped log-std heads) and twin critics
    ([256, 256] ReLU on obs + action); the entropy coefficient's Adam step, the critics' (target
    from the next observations' sampled actions and the target critics), the actor's through the
    updated critics, Polyak tau 0.005. Three Adam optimizers, as SB3.

    SB3's actor loss backpropagates into the critics' parameters too (their gradients are
    computed, then zeroed before the critics' next step); engram computes only the input
    gradient there. `frozen_critics=True` turns requires_grad off for the critics during the
    actor's backward, so PyTorch skips the same work (the fair twin of engram's step)."""

    OBS, ACT = 3, 1

    def __init__(self, batch, seed=0, frozen_critics=False):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.frozen_critics = frozen_critics

        def mlp(inp, out):
            return nn.Sequential(nn.Linear(inp, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Linear(256, out))
        o, a = self.OBS, self.ACT
        self.actor = mlp(o, 2 * a)
        self.critics = nn.ModuleList([mlp(o + a, 1), mlp(o + a, 1)])
        self.targets = nn.ModuleList([mlp(o + a, 1), mlp(o + a, 1)])
        self.targets.load_state_dict(self.critics.state_dict())
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=3e-4)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=3e-4)
        self.obs = torch.rand(batch, o, generator=g) * 2 - 1
        self.next_obs = torch.rand(batch, o, generator=g) * 2 - 1
        self.actions = torch.rand(batch, a, generator=g) * 2 - 1
        self.rewards = torch.rand(batch, 1, generator=g)
        self.dones = (torch.rand(batch, 1, generator=g) < 0.05).float()

    def sample(self, obs):
        mean, log_std = self.actor(obs).chunk(2, dim=1)
        log_std = log_std.clamp(-20, 2)
        u = mean + log_std.exp() * torch.randn_like(mean)
        a = torch.tanh(u)
        normal = torch.distributions.Normal(mean, log_std.exp())
        log_prob = normal.log_prob(u).sum(1) - torch.log(1 - a.pow(2) + 1e-6).sum(1)
        return a, log_prob

    def __call__(self):
        a_pi, log_prob = self.sample(self.obs)
        alpha = self.log_alpha.detach().exp()
        alpha_loss = -(self.log_alpha * (log_prob - self.ACT).detach()).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()
        with torch.no_grad():
            next_a, next_lp = self.sample(self.next_obs)
            x = torch.cat([self.next_obs, next_a], 1)
            next_q = torch.min(self.targets[0](x), self.targets[1](x)) - alpha * next_lp.reshape(-1, 1)
            y = self.rewards + (1 - self.dones) * 0.99 * next_q
        x = torch.cat([self.obs, self.actions], 1)
        critic_loss = 0.5 * sum(nn.functional.mse_loss(q(x), y) for q in self.critics)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        if self.frozen_critics:
            self.critics.requires_grad_(False)
        x = torch.cat([self.obs, a_pi], 1)
        min_q = torch.min(self.critics[0](x), self.critics[1](x))
        actor_loss = (alpha * log_prob.reshape(-1, 1) - min_q).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        if self.frozen_critics:
            self.critics.requires_grad_(True)
        with torch.no_grad():
            for t, p in zip(self.targets.parameters(), self.critics.parameters()):
                t.mul_(1 - 0.005).add_(p, alpha=0.005)


class ReplaySample:
    """SB3's ReplayBuffer.sample(64) on a full 100k buffer of CartPole transitions: random
    indices, numpy fancy indexing, conversion to tensors."""

    def __init__(self, batch, seed=0):
        import numpy as np
        self.np, self.rng, self.batch = np, np.random.default_rng(seed), batch
        n = 100_000
        self.obs = self.rng.random((n, OBS), dtype=np.float32)
        self.next_obs = self.rng.random((n, OBS), dtype=np.float32)
        self.actions = self.rng.integers(0, ACTIONS, (n, 1))
        self.rewards = self.rng.random((n, 1), dtype=np.float32)
        self.dones = np.zeros((n, 1), dtype=np.float32)

    def __call__(self):
        i = self.rng.integers(0, len(self.obs), size=self.batch)
        return tuple(torch.as_tensor(a[i]) for a in
                     (self.obs, self.actions, self.next_obs, self.dones, self.rewards))


class ConvNet(nn.Module):
    """Conv layers (channels first, as PyTorch wants; the input arrives NHWC as engram's and is
    permuted), ReLU after each, a dense layer with ReLU, then policy (6) and value (1) heads."""

    def __init__(self, image, convs, dense):
        super().__init__()
        h, w, c = image
        layers = []
        for filters, kernel, stride in convs:
            layers += [nn.Conv2d(c, filters, kernel, stride), nn.ReLU()]
            h, w, c = (h - kernel) // stride + 1, (w - kernel) // stride + 1, filters
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(h * w * c, dense), nn.ReLU())
        self.policy = nn.Linear(dense, 6)
        self.value = nn.Linear(dense, 1)

    def forward(self, x):
        z = self.fc(self.convs(x.permute(0, 3, 1, 2)).flatten(1))
        return self.policy(z), self.value(z)


CONV_NETS = {
    "minatar": ((10, 10, 4), [(16, 3, 1)], 128),
    "nature": ((84, 84, 4), [(32, 8, 4), (64, 4, 2), (64, 3, 1)], 512),
}


class ConvAct:
    """crates/nn/examples/conv_speed.rs's acting: one observation, forward only."""

    def __init__(self, name, seed=0):
        torch.manual_seed(seed)
        image, convs, dense = CONV_NETS[name]
        self.net = ConvNet(image, convs, dense)
        self.obs = torch.rand(1, *image) * 2 - 1

    def __call__(self):
        with torch.no_grad():
            return self.net(self.obs)


class ConvUpdate:
    """crates/nn/examples/conv_speed.rs's update: batch 32, loss sum(w * heads) for fixed w,
    backward, Adam."""

    def __init__(self, name, batch=32, seed=0):
        torch.manual_seed(seed)
        image, convs, dense = CONV_NETS[name]
        self.net = ConvNet(image, convs, dense)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        self.obs = torch.rand(batch, *image) * 2 - 1
        self.w_pi = torch.rand(batch, 6) * 2 - 1
        self.w_vf = torch.rand(batch, 1) * 2 - 1

    def __call__(self):
        pi, vf = self.net(self.obs)
        loss = (pi * self.w_pi).sum() + (vf * self.w_vf).sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def workloads(per_step):
    return [
        ("a3c_update_lstm64_b1", lambda: Update("lstm", 64, 1, per_step), STEPS * 1),
        ("act_lstm64", lambda: Act("lstm", 64), 1),
        ("update_lstm128_b16", lambda: Update("lstm", 128, 16, per_step), STEPS * 16),
        ("update_lstm256_b64", lambda: Update("lstm", 256, 64, per_step), STEPS * 64),
        ("a3c_update_gru64_b1", lambda: Update("gru", 64, 1, per_step), STEPS * 1),
        ("act_gru64", lambda: Act("gru", 64), 1),
        ("update_gru128_b16", lambda: Update("gru", 128, 16, per_step), STEPS * 16),
        ("a3c_update_mlp64x2_b1", lambda: Update("mlp", 64, 1, per_step), STEPS * 1),
        ("act_mlp64x2", lambda: Act("mlp", 64), 1),
        ("update_mlp64x2_b16", lambda: Update("mlp", 64, 16, per_step), STEPS * 16),
        ("dqn_update_mlp256_b64", lambda: DqnUpdate(64), 64),
        ("replay_sample_b64_uniform", lambda: ReplaySample(64), 64),
        ("act_conv_minatar", lambda: ConvAct("minatar"), 1),
        ("update_conv_minatar_b32", lambda: ConvUpdate("minatar"), 32),
        ("act_conv_nature", lambda: ConvAct("nature"), 1),
        ("update_conv_nature_b32", lambda: ConvUpdate("nature"), 32),
        ("r2d2_update_lstm64_b32_t80", lambda: R2d2Update(32), 32),
        ("sac_update_mlp256_b256", lambda: SacUpdate(256), 256),
        ("sac_update_mlp256_b256_frozen", lambda: SacUpdate(256, frozen_critics=True), 256),
    ]


def measure(fn, budget_s):
    """Warm-up, then samples of >= ~200 us each; per-iteration median and minimum in us."""
    start, n = time.perf_counter(), 0
    while n < 3 or time.perf_counter() - start < budget_s / 10:
        fn()
        n += 1
    per_iter = (time.perf_counter() - start) / n
    reps = max(1, int(200e-6 / per_iter + 0.999))
    samples, start = [], time.perf_counter()
    while len(samples) < 5 or time.perf_counter() - start < budget_s:
        t = time.perf_counter_ns()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter_ns() - t) / 1e3 / reps)
    return statistics.median(samples), min(samples), len(samples) * reps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="about 0.7 s per workload")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--filter", default=None, help="only workloads whose name contains this")
    ap.add_argument("--per-step", action="store_true", help="loop over steps (sb3-contrib style)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    budget = 0.7 if args.quick else 3.0
    if not args.json:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
        print(f"{'workload':<24}  {'median_us':>12}  {'min_us':>12}  {'iters':>8}")
    for name, make, samples in workloads(args.per_step):
        if args.filter and args.filter not in name:
            continue
        median, best, iters = measure(make(), budget)
        unit = "steps" if name.startswith("act_") else "sequences" if name.startswith("r2d2") else "samples"
        if args.json:
            print(json.dumps({
                "name": name, "median_us": round(median, 3), "min_us": round(best, 3),
                "iterations": iters, f"{unit}_per_second": round(samples / (median * 1e-6), 3),
                "implementation": f"torch {torch.__version__}",
            }))
        else:
            print(f"{name:<24}  {median:>12.2f}  {best:>12.2f}  {iters:>8}")


if __name__ == "__main__":
    main()
