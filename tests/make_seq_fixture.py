#!/usr/bin/python3
"""Makes the PyTorch parity fixtures of hesse's sequence layers that tests/test_seq_layers.c
checks: embedding, posembed, tokens, meanpool, linear and layernorm on the last dimension.

Two nets in float64 (nn.Sequential, PyTorch's own initialisation under a fixed seed):

  lm   embedding(11,6),posembed(5,6),linear(6,6),gelu,layernorm(6),meanpool,linear(6,3)
       on token ids [N, T = 5] (hesse's input shape (1, 5, 1)), 3 classes
  vit  conv2d(1,3,2,stride=2),tokens,posembed(6,3),linear(3,4),gelu,layernorm(4),meanpool,
       linear(4,3) on images [N, 1, 4, 6] (6 tokens of 3 values: tokens is no square transpose)

posembed(T, D) is PosEmbed below: one parameter `weight` [T, D], initialised N(0, 1) as
nn.Embedding(T, D) is, and y = x + weight[:T'] -- the same as adding nn.Embedding(T, D) applied
to arange(T') (nanoGPT's wpe). The layer norms get random affine parameters so that they are
not the identity map.

For each net it writes to tests/data/:
  fixture_seq_<net>_model.safetensors     the state_dict (F64), with __metadata__ "arch"
                                          (hesse's syntax) and "input_shape" ("c,h,w")
  fixture_seq_<net>_data.safetensors      x (F64 [N, c*h*w]: ids as numbers for lm) and
                                          y (I64 [N])
  fixture_seq_<net>_expected.safetensors  what PyTorch computes (F64): logits [N, C], loss [1]
      (F.cross_entropy, mean), grad [n], v [2, n] (random directions), hvp [2, n] (double
      backward), ggnv [2, n] (J^T A J v with J v by forward-mode jvp and A = (diag p - p p^T)
      / N per sample, then the vector-Jacobian product)

The safetensors files are written by tools/hesse_st.py. Seeds are fixed.
Run from anywhere: /usr/bin/python3 tests/make_seq_fixture.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.functional import jvp, vjp
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class PosEmbed(nn.Module):
    """hesse's posembed(T, D): x [B, T', D] + weight[:T'] (nn.Embedding(T, D) on arange(T'))."""

    def __init__(self, T, D):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(T, D))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


class Tokens(nn.Module):
    """hesse's tokens: [B, D, H, W] -> [B, H*W, D]."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class MeanPool(nn.Module):
    """hesse's meanpool: [B, T, D] -> [B, D]."""

    def forward(self, x):
        return x.mean(dim=1)


def lm():
    arch = "embedding(11,6),posembed(5,6),linear(6,6),gelu,layernorm(6),meanpool,linear(6,3)"
    mods = [nn.Embedding(11, 6), PosEmbed(5, 6), nn.Linear(6, 6), nn.GELU(), nn.LayerNorm(6),
            MeanPool(), nn.Linear(6, 3)]
    return arch, mods, (1, 5, 1), 3


def vit():
    arch = ("conv2d(1,3,2,stride=2),tokens,posembed(6,3),linear(3,4),gelu,layernorm(4),"
            "meanpool,linear(4,3)")
    mods = [nn.Conv2d(1, 3, 2, stride=2), Tokens(), PosEmbed(6, 3), nn.Linear(3, 4), nn.GELU(),
            nn.LayerNorm(4), MeanPool(), nn.Linear(4, 3)]
    return arch, mods, (1, 4, 6), 3


class Net(nn.Module):
    """nn.Sequential's state_dict names ("0.weight", ...), with ids turned into longs first."""

    def __init__(self, mods):
        super().__init__()
        self.seq = nn.Sequential(*mods)

    def forward(self, x):
        for i, m in enumerate(self.seq):
            x = m(x.reshape(x.shape[0], -1).long()) if isinstance(m, nn.Embedding) else m(x)
        return x


def expectations(net, x, y, v):
    names = [k for k, _ in net.seq.named_parameters()]
    params = [p for _, p in net.seq.named_parameters()]
    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts])  # noqa: E731

    def unflat(theta):
        out, off = {}, 0
        for k, p in zip(names, params):
            out[k] = theta[off:off + p.numel()].view(p.shape)
            off += p.numel()
        return out

    def run(state):
        h = x
        for i, m in enumerate(net.seq):
            sub = {k.split(".", 1)[1]: t for k, t in state.items() if k.split(".")[0] == str(i)}
            if isinstance(m, nn.Embedding):
                h = F.embedding(h.reshape(h.shape[0], -1).long(), sub["weight"])
            else:
                h = functional_call(m, sub, (h,)) if sub else m(h)
        return h

    def logits_of(theta):
        return run(unflat(theta))

    theta = flat(params).detach()
    z = net(x)
    loss = F.cross_entropy(z, y)
    g = flat(torch.autograd.grad(loss, params, create_graph=True))
    hvp = torch.stack([flat(torch.autograd.grad(g @ v[j], params, retain_graph=True))
                       for j in range(2)])
    ggnv = []
    for j in range(2):
        zz, Jv = jvp(logits_of, (theta,), (v[j],))
        p = torch.softmax(zz, dim=1)
        AJv = (p * Jv - p * (p * Jv).sum(dim=1, keepdim=True)) / x.shape[0]
        ggnv.append(vjp(logits_of, theta, AJv)[1])
    return {"logits": z.detach(), "loss": loss.detach().reshape(1), "grad": g.detach(), "v": v,
            "hvp": hvp.detach(), "ggnv": torch.stack(ggnv).detach()}


def main():
    assert sys.byteorder == "little"
    torch.set_default_dtype(torch.float64)
    for name, make, seed in (("lm", lm, 3101), ("vit", vit, 3202)):
        torch.manual_seed(seed)
        arch, mods, shape, classes = make()
        net = Net(mods)
        with torch.no_grad():
            for m in net.seq:
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape))
                    m.bias.copy_(0.3 * torch.randn(m.bias.shape))
        N = 7
        gen = torch.Generator().manual_seed(seed + 1)
        if name == "lm":
            x = torch.randint(0, 11, (N, *shape), generator=gen).to(torch.float64)
        else:
            x = torch.randn(N, *shape, generator=gen)
        y = torch.randint(0, classes, (N,), generator=gen)
        n = sum(p.numel() for p in net.parameters())
        v = torch.randn(2, n, generator=gen)
        state = {k: t for k, t in net.seq.state_dict().items()}
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % shape}
        hesse_st.write(os.path.join(DATA, "fixture_seq_%s_model.safetensors" % name), state, meta)
        hesse_st.write(os.path.join(DATA, "fixture_seq_%s_data.safetensors" % name),
                       {"x": x.reshape(N, -1), "y": y}, {"num_classes": str(classes)})
        hesse_st.write(os.path.join(DATA, "fixture_seq_%s_expected.safetensors" % name),
                       expectations(net, x, y, v))
        print("%s: %s, input %s, n = %d, N = %d" % (name, arch, shape, n, N))


if __name__ == "__main__":
    main()
