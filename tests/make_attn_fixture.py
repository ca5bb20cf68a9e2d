#!/usr/bin/python3
"""Makes the PyTorch parity fixtures of multiheadattention that tests/test_attn_fixture.c
checks hesse against: nn.MultiheadAttention(D, heads, batch_first=True) called as
self-attention, attn(x, x, x, need_weights=False) (with causal=True: attn_mask the boolean upper
triangle, True above the diagonal; tools/hesse_arch.py's SelfAttention), inside small float64
nets on sequences [N, T, D]:

  attn         multiheadattention(6,2),flatten,linear(30,3)
  attn_causal  layernorm(6),multiheadattention(6,3,causal=True),tanh,flatten,linear(30,3)

For each case it writes to tests/data/:

  fixture_<case>_model.safetensors     the state_dict (F64; "0.in_proj_weight", ...), with
                                       __metadata__ "arch" (hesse's syntax) and "input_shape"
                                       ("1,T,D")
  fixture_<case>_data.safetensors      x (F64 [N, 1, T, D], standard normal), y (I64 [N])
  fixture_<case>_expected.safetensors  what PyTorch computes (F64): logits [N, C], loss [1]
                                       (F.cross_entropy, mean), grad [n], v [2, n] and hvp [2, n]
                                       (double backward), hessian_eigenvalues [n] and
                                       ggn_eigenvalues [n] (autograd.functional.hessian /
                                       jacobian, eigvalsh, ascending)

PyTorch's own initialisation under a fixed seed, then the biases (zero after PyTorch's init)
drawn N(0, 0.3^2) so that their terms count. Files are written by tools/hesse_st.py (struct +
json). Run from anywhere: /usr/bin/python3 tests/make_attn_fixture.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402
from hesse_arch import SelfAttention  # noqa: E402  (nn.MultiheadAttention as self-attention)
from make_fixtures import unflatten  # noqa: E402  (this script's folder is on sys.path)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


# name, modules, arch, (T, D), classes, samples, seed
CASES = [
    ("attn", lambda: [SelfAttention(6, 2), nn.Flatten(), nn.Linear(30, 3)],
     "multiheadattention(6,2),flatten,linear(30,3)", (5, 6), 3, 12, 3001),
    ("attn_causal",
     lambda: [nn.LayerNorm(6), SelfAttention(6, 3, causal=True), nn.Tanh(), nn.Flatten(),
              nn.Linear(30, 3)],
     "layernorm(6),multiheadattention(6,3,causal=True),tanh,flatten,linear(30,3)", (5, 6), 3,
     12, 3002),
]


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def expectations(model, x, y, v):
    params = list(model.parameters())
    theta = flat([p.detach() for p in params])
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    g = flat(torch.autograd.grad(loss, params, create_graph=True))
    hvp = torch.stack([flat(torch.autograd.grad(g @ v[j], params, retain_graph=True))
                       for j in range(v.shape[0])])

    def logits_of(th):
        return functional_call(model, unflatten(model, th), (x,))

    H = torch.autograd.functional.hessian(lambda th: F.cross_entropy(logits_of(th), y), theta)
    J = torch.autograd.functional.jacobian(logits_of, theta)  # [N, C, n]
    with torch.no_grad():
        p = torch.softmax(logits, dim=1)
        A = (torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)) / x.shape[0]
        G = torch.einsum("icp,icd,idq->pq", J, A, J)
    return {
        "logits": logits.detach(),
        "loss": loss.detach().reshape(1),
        "grad": g.detach(),
        "v": v,
        "hvp": hvp.detach(),
        "hessian_eigenvalues": torch.linalg.eigvalsh(0.5 * (H + H.T)),
        "ggn_eigenvalues": torch.linalg.eigvalsh(0.5 * (G + G.T)),
    }


def main():
    assert sys.byteorder == "little", "safetensors is little-endian"
    torch.set_default_dtype(torch.float64)
    for name, modules, arch, (t, d), classes, samples, seed in CASES:
        torch.manual_seed(seed)
        model = nn.Sequential(*modules())
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("bias"):
                    p.copy_(0.3 * torch.randn(p.shape))
        n = sum(p.numel() for p in model.parameters())
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(samples, t, d, generator=gen)
        y = torch.randint(0, classes, (samples,), generator=gen)
        v = torch.randn(2, n, generator=gen)
        ex = expectations(model, x, y, v)
        meta = {"format": "pt", "arch": arch, "input_shape": "1,%d,%d" % (t, d)}
        hesse_st.write(os.path.join(DATA, "fixture_%s_model.safetensors" % name),
                       model.state_dict(), meta)
        hesse_st.write(os.path.join(DATA, "fixture_%s_data.safetensors" % name),
                       {"x": x.reshape(samples, 1, t, d), "y": y},
                       {"num_classes": str(classes)})
        hesse_st.write(os.path.join(DATA, "fixture_%s_expected.safetensors" % name), ex)
        print("%s: %s, input 1,%d,%d, n = %d, N = %d" % (name, arch, t, d, n, samples))


if __name__ == "__main__":
    main()
