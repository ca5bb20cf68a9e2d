#!/usr/bin/python3
"""Makes tests/data/fixture_optim.safetensors: torch.optim trajectories that
tests/test_optim.c reproduces with hesse's optimizers and schedules.

Run with Debian's python3-torch:  /usr/bin/python3 tests/make_optim_fixture.py

From theta0 (n = 50, float64) and a fixed sequence of T = 8 gradients (random normal,
independent of theta, fed by setting .grad), it records theta after every step of
  sgd:       SGD(lr=0.1, momentum=0.9, weight_decay=0.01)
  sgd_plain: SGD(lr=0.1)
  adam:      Adam(lr=0.01, weight_decay=0.001)   (betas 0.9, 0.999, eps 1e-8)
and the per-epoch learning rates of StepLR(step_size=2, gamma=0.5) and
CosineAnnealingLR(T_max=7) from lr 0.1 over 7 epochs. Deterministic (fixed seed).
"""
import os
import sys

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
    }
    hesse_st.write(OUT, tensors)


if __name__ == "__main__":
    main()
