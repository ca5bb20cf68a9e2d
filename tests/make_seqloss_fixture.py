#!/usr/bin/python3
"""Makes the PyTorch fixtures of the loss over positions that tests/test_seq_loss.c checks.

A model whose output is a sequence [B, c, T, V] (not flat) has c*T positions with V classes
each; its cross-entropy is the mean over all B*c*T positions,
F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), and its MSE the mean over all elements
against one-hot targets, F.mse_loss(logits, F.one_hot(y, V).double()). The models are built
only from layers that keep a [T, V] shape (convolutions along the tokens or the classes,
tanh, a layer norm over the last dimension), nn.Sequential in float64, PyTorch's
initialisation under a fixed seed and then the layer norm's affine parameters drawn at random
(so that they are not the identity).

For each case it writes to tests/data/:

  fixture_seq_<case>_model.safetensors     the state_dict (F64) with __metadata__ "arch"
                                           (hesse's syntax) and "input_shape" ("c,h,w")
  fixture_seq_<case>_expected.safetensors  x [N, c, h, w] (standard normal), y [N, P] (I64,
      uniform in [0, V)), v [2, n] (two random directions), logits [N, c', T, V] (the model's
      output), and, computed by autograd:
      ce_loss [1], ce_grad [n], ce_hvp [2, n]   cross-entropy over positions, its gradient
                                                and Hessian-vector products (double backward)
      ce_ggnvp [2, n]      J^T A J v with J the Jacobian of the logits (autograd.functional.
                           jacobian) and A = blockdiag over positions (diag p - p p^T) / (N P)
      ce_efvp [2, n]       the empirical Fisher (1/N) sum_i g_i g_i^T v, g_i the gradient of
                           sample i's loss (the mean of its P cross-entropies)
      ce_hessian_eigenvalues [n]   the full Hessian's (autograd.functional.hessian), ascending
      mse_loss [1], mse_grad [n], mse_hvp [2, n], mse_ggnvp [2, n]   the same for the MSE
                           (A = 2 I / (N P V))

Written by tools/hesse_st.py (struct + json), so the fixtures depend on neither hesse's writer
nor the safetensors package. Run from anywhere: /usr/bin/python3 tests/make_seqloss_fixture.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402
from make_fixtures import unflatten  # noqa: E402  (the flat vector as a state_dict's views)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# name: (hesse arch, modules, input shape (c, T, V_in), samples, seed). Output [c', T, V]:
# "tokens" mixes neighbouring tokens and then the classes of each token, ending in a layer
# norm of every token's logits; "channels" has two output channels, so P = 2 T positions.
CASES = {
    "tokens": (
        "conv2d(1,3,(3,1),padding=(1,0)),tanh,conv2d(3,1,(1,3),padding=(0,1)),layernorm(4)",
        lambda: [nn.Conv2d(1, 3, (3, 1), padding=(1, 0)), nn.Tanh(),
                 nn.Conv2d(3, 1, (1, 3), padding=(0, 1)), nn.LayerNorm(4)],
        (1, 5, 4), 6, 3101),
    "channels": (
        "conv2d(1,2,1),tanh,layernorm(5),conv2d(2,2,(1,1))",
        lambda: [nn.Conv2d(1, 2, 1), nn.Tanh(), nn.LayerNorm(5), nn.Conv2d(2, 2, (1, 1))],
        (1, 3, 5), 4, 3202),
}


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def ce(z, y):
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))


def mse(z, y):
    return F.mse_loss(z, F.one_hot(y.reshape(z.shape[:-1]), z.shape[-1]).to(z.dtype))


def ggn_vp(model, x, v, A_of):
    """J^T A J v for the rows of v, J by autograd.functional.jacobian of the logits."""
    theta = flat(model.parameters()).detach()
    J = torch.autograd.functional.jacobian(
        lambda th: functional_call(model, unflatten(model, th), (x,)).reshape(-1), theta)
    with torch.no_grad():
        A = A_of(model(x))
        return torch.stack([J.T @ (A @ (J @ v[j])) for j in range(v.shape[0])])


def ce_A(z):
    """blockdiag over the N P positions of (diag p - p p^T) / (N P)."""
    V = z.shape[-1]
    p = torch.softmax(z.reshape(-1, V), dim=1)
    rows = p.shape[0]
    A = torch.zeros(rows * V, rows * V)
    for r in range(rows):
        A[r * V:(r + 1) * V, r * V:(r + 1) * V] = torch.diag(p[r]) - torch.outer(p[r], p[r])
    return A / rows


def expectations(model, x, y, v):
    params = list(model.parameters())
    with torch.no_grad():
        out = {"x": x, "y": y, "v": v, "logits": model(x)}
    for tag, loss_fn in (("ce", ce), ("mse", mse)):
        loss = loss_fn(model(x), y)
        g = flat(torch.autograd.grad(loss, params, create_graph=True))
        out[tag + "_loss"] = loss.detach().reshape(1)
        out[tag + "_grad"] = g.detach()
        out[tag + "_hvp"] = torch.stack([flat(torch.autograd.grad(g @ v[j], params,
                                                                  retain_graph=True))
                                         for j in range(v.shape[0])]).detach()
    out["ce_ggnvp"] = ggn_vp(model, x, v, ce_A)
    out["mse_ggnvp"] = ggn_vp(model, x, v, lambda z: 2.0 * torch.eye(z.numel()) / z.numel())
    # empirical Fisher: per-sample gradients of l_i = the mean of sample i's cross-entropies
    N = x.shape[0]
    gs = torch.stack([flat(torch.autograd.grad(ce(model(x[i:i + 1]), y[i:i + 1]), params))
                      for i in range(N)])
    out["ce_efvp"] = torch.stack([gs.T @ (gs @ v[j]) / N for j in range(v.shape[0])]).detach()
    theta = flat(params).detach()
    H = torch.autograd.functional.hessian(
        lambda th: ce(functional_call(model, unflatten(model, th), (x,)), y), theta)
    out["ce_hessian_eigenvalues"] = torch.linalg.eigvalsh(0.5 * (H + H.T))
    return out


def main():
    assert sys.byteorder == "little", "safetensors is little-endian; run on a little-endian host"
    torch.set_default_dtype(torch.float64)
    for name, (arch, modules, input_shape, samples, seed) in CASES.items():
        torch.manual_seed(seed)
        model = nn.Sequential(*modules())
        with torch.no_grad():
            for m in model:
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(1.0 + 0.5 * torch.randn(m.weight.shape))
                    m.bias.copy_(0.5 * torch.randn(m.bias.shape))
            out_shape = model(torch.zeros(1, *input_shape)).shape[1:]
        positions, V = out_shape[0] * out_shape[1], out_shape[2]
        n = sum(p.numel() for p in model.parameters())
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(samples, *input_shape, generator=gen)
        y = torch.randint(0, V, (samples, positions), generator=gen)
        v = torch.randn(2, n, generator=gen)
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % input_shape}
        hesse_st.write(os.path.join(DATA, "fixture_seq_%s_model.safetensors" % name),
                       model.state_dict(), meta)
        hesse_st.write(os.path.join(DATA, "fixture_seq_%s_expected.safetensors" % name),
                       expectations(model, x, y, v))
        print("%s: %s, input %s, output %s: P = %d, V = %d, n = %d, N = %d"
              % (name, arch, input_shape, tuple(out_shape), positions, V, n, samples))


if __name__ == "__main__":
    main()
