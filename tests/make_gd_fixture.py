#!/usr/bin/python3
"""Makes tests/data/fixture_gd_*.safetensors: full-batch gradient descent and Adam's
preconditioner in PyTorch, which tests/cli/train.sh (hesse train --optimizer gd) and
tests/test_optim.c (hesse_optimizer_preconditioner) reproduce.

Run with Debian's python3-torch from the source root, with a built hesse:
    HESSE=build/hesse /usr/bin/python3 tests/make_gd_fixture.py

1. fixture_gd_data.safetensors: x [24, 6] (float64, standard normal) and y [24] (int64, 4
   classes), seeded; hesse reads it as --data.
2. fixture_gd_init_{cross_entropy,mse}.safetensors: hesse's own initial model of
   linear(6,5),tanh,linear(5,4) (hesse train --epochs 0 --seed 3), the inputs of the runs below
   (made with $HESSE once; kept when they exist, so that the expected values stay tied to them).
3. fixture_gd_expected.safetensors: from each init, STEPS = 10 steps of torch.optim.SGD
   (lr 0.3, momentum 0) on the gradient of the mean loss over all 24 samples, loss
   F.cross_entropy or F.mse_loss(z, one_hot(y, 4)) (hesse's MSE: the mean over all N C outputs),
   weight decay 0 and 0.05: {loss}_wd{0,0.05} = the parameters after the last step, flattened in
   state_dict order (hesse's parameter order), and {loss}_wd{..}_loss [STEPS] the full-batch
   loss before each step. Then Adam: adam_theta0 [40], adam_grads [8, 40] (independent of
   theta, fed as .grad), and adam_denom / adamw_denom [8, 40], the divisor of each step,
   (exp_avg_sq / (1 - beta2^t)).sqrt() + eps from the optimizer's state after step t, for
   Adam(lr=0.01, weight_decay=0.001) and AdamW(lr=0.01, weight_decay=0.05).
"""
import math
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import hesse_st  # noqa: E402

DATA = os.path.join(HERE, "data")
ARCH = "linear(6,5),tanh,linear(5,4)"
STEPS, LR = 10, 0.3


def path(name):
    return os.path.join(DATA, "fixture_gd_" + name + ".safetensors")


def make_data():
    g = torch.Generator().manual_seed(20)
    x = torch.randn(24, 6, dtype=torch.float64, generator=g)
    y = torch.randint(0, 4, (24,), generator=g)
    hesse_st.write(path("data"), {"x": x, "y": y})
    return x, y


def make_init(loss):
    out = path("init_" + loss)
    if os.path.exists(out):
        return out
    hesse = os.environ.get("HESSE", "build/hesse")
    subprocess.run([hesse, "train", "-q", "--arch", ARCH, "--loss", loss, "--data", path("data"),
                    "--epochs", "0", "--seed", "3", "-o", out], check=True)
    return out


def net_from(init):
    t, _ = hesse_st.read(init)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4))
    net = net.double()
    net.load_state_dict({k: torch.as_tensor(v).reshape(net.state_dict()[k].shape)
                         for k, v in t.items()})
    return net


def gd(init, loss, wd, x, y):
    net = net_from(init)
    opt = torch.optim.SGD(net.parameters(), lr=LR, weight_decay=wd)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        z = net(x)
        if loss == "mse":
            L = torch.nn.functional.mse_loss(z, torch.nn.functional.one_hot(y, 4).double())
        else:
            L = torch.nn.functional.cross_entropy(z, y)
        L.backward()
        losses.append(L.item())
        opt.step()
    flat = torch.cat([p.detach().reshape(-1) for p in net.state_dict().values()])
    return flat, torch.tensor(losses, dtype=torch.float64)


def denoms(make_opt, theta0, grads):
    p = torch.nn.Parameter(theta0.clone())
    opt = make_opt([p])
    b2 = opt.param_groups[0]["betas"][1]
    eps = opt.param_groups[0]["eps"]
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        st = opt.state[p]
        t = float(st["step"])
        out.append((st["exp_avg_sq"] / (1 - b2 ** t)).sqrt() + eps)
    return torch.stack(out)


def main():
    x, y = make_data()
    tensors = {}
    for loss in ("cross_entropy", "mse"):
        init = make_init(loss)
        for wd in (0.0, 0.05):
            name = "%s_wd%g" % (loss, wd)
            tensors[name], tensors[name + "_loss"] = gd(init, loss, wd, x, y)
    g = torch.Generator().manual_seed(21)
    theta0 = torch.randn(40, dtype=torch.float64, generator=g)
    grads = torch.randn(8, 40, dtype=torch.float64, generator=g) * torch.logspace(
        -3, 1, 40, dtype=torch.float64)
    tensors["adam_theta0"], tensors["adam_grads"] = theta0, grads
    tensors["adam_denom"] = denoms(
        lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.001), theta0, grads)
    tensors["adamw_denom"] = denoms(
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05), theta0, grads)
    hesse_st.write(path("expected"), tensors)
    assert not math.isnan(float(tensors["mse_wd0_loss"][-1]))


if __name__ == "__main__":
    main()
