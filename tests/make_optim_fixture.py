#!/usr/bin/python3
"""Makes tests/data/fixture_optim.safetensors: torch.optim trajectories that
tests/test_optim.c reproduces with hesse's optimizers and schedules.

Run with Debian's python3-torch:  /usr/bin/python3 tests/make_optim_fixture.py

From theta0 (n = 50, float64) and a fixed sequence of T = 8 gradients (random normal,
independent of theta, fed by setting .grad), it records theta after every step of
  sgd:       SGD(lr=0.1, momentum=0.9, weight_decay=0.01)
  sgd_plain: SGD(lr=0.1)
  adam:      Adam(lr=0.01, weight_decay=0.001)   (betas 0.9, 0.999, eps 1e-8)
  adamw:     AdamW(lr=0.01, weight_decay=0.05)   (decoupled decay)
  adamw_default: AdamW(lr=0.01)                  (PyTorch's default weight_decay 0.01)
and the per-epoch learning rates of StepLR(step_size=2, gamma=0.5) and
CosineAnnealingLR(T_max=7) from lr 0.1 over 7 epochs; the per-step warm-up + cosine schedule
(hesse train --schedule warmup-cosine) from lr 0.1 over S = 10 steps with W = 3 warm-up steps,
as LambdaLR with the documented factor (lr_warmup_cosine), as SequentialLR([LinearLR(1/W,
total_iters=W-1), CosineAnnealingLR(T_max=S-W)], milestones=[W]) (lr_warmup_cosine_seq), and
with W = 0 as CosineAnnealingLR(T_max=S) stepped per step (lr_cosine_steps).

Finally a small net trained for real: Linear(4, 5), Tanh, Linear(5, 3) on N = 12 samples (net_x,
net_y), cross-entropy, minibatches of 4 in file order (3 per epoch, 3 epochs), AdamW(lr=0.05,
weight_decay=0.01) under LambdaLR(warm-up + cosine, S = 9, W = 3) stepped after every step:
net_theta0 (the parameters in state_dict order, flattened), net_traj [9, n] (after each step)
and net_lr [9]. Deterministic (fixed seed); the tensors above keep their bits when new ones
are appended here (their random draws come first).
"""
import math
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402  (pure-Python safetensors: struct + json)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fixture_optim.safetensors")



def trajectory(make_opt, theta0, grads):
    p = torch.nn.Parameter(theta0.clone())
    opt = make_opt([p])
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        out.append(p.detach().clone())
    return torch.stack(out)


def lrs(make_sched, epochs):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make_sched(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float64)


def warmup_cosine(W, S):
    """The factor of step s, as hesse_schedule_warmup_cosine writes it."""
    def f(s):
        if s < W:
            return (s + 1) / W
        return 0.5 * (1 + math.cos(math.pi * (s - W) / (S - W)))
    return f


def sequential(W, S):
    # SequentialLR steps the second scheduler with an explicit epoch at the milestone
    warnings.filterwarnings("ignore", message="The epoch parameter")

    def make(o):
        lin = torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / W, end_factor=1.0,
                                                total_iters=W - 1)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=S - W)
        return torch.optim.lr_scheduler.SequentialLR(o, [lin, cos], milestones=[W])
    return make


def net_run():
    """AdamW + warm-up/cosine on a small tanh net, minibatches in file order."""
    torch.manual_seed(1)
    N, B, epochs, W = 12, 4, 3, 3
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(),
                              torch.nn.Linear(5, 3)).double()
    x = torch.randn(N, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (N,))
    flat = lambda: torch.cat([p.detach().reshape(-1) for p in net.state_dict().values()])
    theta0 = flat()
    S = epochs * (N // B)
    opt = torch.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(W, S))
    traj, lrs = [], []
    for _ in range(epochs):
        for b0 in range(0, N, B):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[b0:b0 + B]), y[b0:b0 + B]).backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
            traj.append(flat())
    return {"net_x": x, "net_y": y.double(), "net_theta0": theta0, "net_traj": torch.stack(traj),
            "net_lr": torch.tensor(lrs, dtype=torch.float64)}


def main():
    torch.manual_seed(0)
    n, T = 50, 8
    theta0 = torch.randn(n, dtype=torch.float64)
    grads = torch.randn(T, n, dtype=torch.float64)
    tensors = {
        "theta0": theta0,
        "grads": grads,
        "sgd": trajectory(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                          theta0, grads),
        "sgd_plain": trajectory(lambda ps: torch.optim.SGD(ps, lr=0.1), theta0, grads),
        "adam": trajectory(lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.001),
                           theta0, grads),
        "lr_step": lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), 7),
        "lr_cosine": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7), 7),
        "adamw": trajectory(lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05),
                            theta0, grads),
        "adamw_default": trajectory(lambda ps: torch.optim.AdamW(ps, lr=0.01), theta0, grads),
        "lr_warmup_cosine": lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(
            o, warmup_cosine(3, 10)), 10),
        "lr_warmup_cosine_seq": lrs(sequential(3, 10), 10),
        "lr_cosine_steps": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
                               10),
    }
    tensors.update(net_run())
    hesse_st.write(OUT, tensors)


if __name__ == "__main__":
    main()
