#!/usr/bin/python3
"""Makes the PyTorch parity fixtures that tests/test_torch_fixtures.c checks hesse against.

For each case (a small MLP and a small CNN, both nn.Sequential in float64 with PyTorch's own
initialisation under a fixed seed) it writes to tests/data/:

  fixture_<case>_model.safetensors     the state_dict ("0.weight", ...; F64), with
                                       __metadata__ "arch" (hesse's syntax) and
                                       "input_shape" ("c,h,w"), but no hesse.* keys: it looks
                                       like an exported PyTorch state_dict
  fixture_<case>_data.safetensors      x (F64 [N, C, H, W], standard normal) and
                                       y (I64 [N], uniform in [0, classes))
  fixture_<case>_expected.safetensors  what PyTorch computes (F64):
      loss [1]                  mean cross-entropy (F.cross_entropy, reduction 'mean')
      grad [n]                  its gradient (autograd), flattened in state_dict order
      v [2, n], hvp [2, n]      two random directions and the Hessian-vector products
                                (double backward: autograd.grad(g @ v, params))
      hessian_eigenvalues [n]   the full Hessian (autograd.functional.hessian of the loss
                                as a function of the flat parameter vector), eigvalsh,
                                ascending
      ggn_eigenvalues [n]       J^T A J with J = autograd.functional.jacobian of the logits
                                and A = (diag p - p p^T) / N per sample, ascending
      mse_loss [1], mse_grad [n], mse_hvp [n]   (MLP only) nn.MSELoss() (mean) against
                                one-hot targets, and its Hessian times v[0]

Also fixture_mlp_model_f32.safetensors, the MLP's weights rounded to float32 (F32, to check
conversion on load), and fixture_mlp_f32_expected.safetensors, the same quantities as above
(no MSE) computed from those float32 weights cast back to float64, on the MLP's data.

The safetensors files are written by tools/hesse_st.py in pure Python (struct + json: 8-byte
little-endian header length, JSON header, raw little-endian data), so the fixtures depend on
neither hesse's C writer nor the safetensors package. Seeds are fixed: running the script again
writes byte-identical files on the same machine.

Run from anywhere: /usr/bin/python3 tests/make_fixtures.py
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402  (pure-Python safetensors: struct + json)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")



def build(layers, input_shape):
    """layers: (hesse token, module factory) pairs; a factory receives the input shape of its
    layer (so the linear after flatten can size itself). Returns the model and arch string."""
    modules, tokens = [], []
    shape = input_shape
    for token, factory in layers:
        module = factory(shape)
        modules.append(module)
        tokens.append(token(shape) if callable(token) else token)
        with torch.no_grad():
            shape = tuple(module(torch.zeros(1, *shape)).shape[1:])
    return nn.Sequential(*modules), ",".join(tokens)


def flat_features(shape):
    return math.prod(shape)


MLP_LAYERS = [
    ("flatten", lambda s: nn.Flatten()),
    ("linear(12,7)", lambda s: nn.Linear(12, 7)),
    ("tanh", lambda s: nn.Tanh()),
    ("linear(7,5)", lambda s: nn.Linear(7, 5)),
    ("relu", lambda s: nn.ReLU()),
    ("linear(5,4)", lambda s: nn.Linear(5, 4)),
]

CNN_LAYERS = [
    ("conv2d(2,3,3,stride=2,padding=1)", lambda s: nn.Conv2d(2, 3, 3, stride=2, padding=1)),
    ("relu", lambda s: nn.ReLU()),
    ("maxpool2d(2)", lambda s: nn.MaxPool2d(2)),
    ("conv2d(3,4,2,padding=1)", lambda s: nn.Conv2d(3, 4, 2, padding=1)),
    ("gelu", lambda s: nn.GELU()),
    ("avgpool2d(2)", lambda s: nn.AvgPool2d(2)),
    ("flatten", lambda s: nn.Flatten()),
    (lambda s: "linear(%d,3)" % flat_features(s), lambda s: nn.Linear(flat_features(s), 3)),
]

# name, layers, input shape (c, h, w), classes, samples, seed, with the MSE case
CASES = [
    ("mlp", MLP_LAYERS, (3, 2, 2), 4, 40, 1001, True),
    ("cnn", CNN_LAYERS, (2, 9, 9), 3, 24, 2002, False),
]


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(model, theta):
    out, offset = {}, 0
    for name, p in model.named_parameters():
        out[name] = theta[offset:offset + p.numel()].view(p.shape)
        offset += p.numel()
    return out


def expectations(model, x, y, classes, v, with_mse):
    """Everything the test compares, computed by PyTorch (autograd) only."""
    params = list(model.parameters())
    theta = flat_params(model)
    n = theta.numel()

    def flat(ts):
        return torch.cat([t.reshape(-1) for t in ts])

    loss = F.cross_entropy(model(x), y)
    g = flat(torch.autograd.grad(loss, params, create_graph=True))
    hvp = torch.stack([flat(torch.autograd.grad(g @ v[j], params, retain_graph=True))
                       for j in range(v.shape[0])])

    def loss_of(th):
        return F.cross_entropy(functional_call(model, unflatten(model, th), (x,)), y)

    H = torch.autograd.functional.hessian(loss_of, theta)
    assert H.shape == (n, n)
    H = 0.5 * (H + H.T)  # symmetric up to rounding already; eigvalsh reads one triangle

    def logits_of(th):
        return functional_call(model, unflatten(model, th), (x,))

    J = torch.autograd.functional.jacobian(logits_of, theta)  # [N, C, n]
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1)
        A = (torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)) / x.shape[0]
        G = torch.einsum("icp,icd,idq->pq", J, A, J)
        G = 0.5 * (G + G.T)

    out = {
        "loss": loss.detach().reshape(1),
        "grad": g.detach(),
        "v": v,
        "hvp": hvp.detach(),
        "hessian_eigenvalues": torch.linalg.eigvalsh(H),
        "ggn_eigenvalues": torch.linalg.eigvalsh(G),
    }
    if with_mse:
        target = F.one_hot(y, classes).to(torch.float64)
        mse = nn.MSELoss()(model(x), target)
        gm = flat(torch.autograd.grad(mse, params, create_graph=True))
        hm = flat(torch.autograd.grad(gm @ v[0], params))
        out["mse_loss"] = mse.detach().reshape(1)
        out["mse_grad"] = gm.detach()
        out["mse_hvp"] = hm.detach()
    return out


def main():
    assert sys.byteorder == "little", "safetensors is little-endian; run on a little-endian host"
    torch.set_default_dtype(torch.float64)
    for name, layers, input_shape, classes, samples, seed, with_mse in CASES:
        torch.manual_seed(seed)
        model, arch = build(layers, input_shape)
        n = sum(p.numel() for p in model.parameters())
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(samples, *input_shape, generator=gen)
        y = torch.randint(0, classes, (samples,), generator=gen)
        v = torch.randn(2, n, generator=gen)
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % input_shape}

        state = model.state_dict()
        hesse_st.write(os.path.join(DATA, "fixture_%s_model.safetensors" % name), state, meta)
        hesse_st.write(os.path.join(DATA, "fixture_%s_data.safetensors" % name),
                          {"x": x, "y": y}, {"num_classes": str(classes)})
        hesse_st.write(os.path.join(DATA, "fixture_%s_expected.safetensors" % name),
                          expectations(model, x, y, classes, v, with_mse))
        print("%s: %s, input %s, n = %d, N = %d" % (name, arch, input_shape, n, samples))

        if name == "mlp":
            state32 = {k: t.to(torch.float32) for k, t in state.items()}
            hesse_st.write(os.path.join(DATA, "fixture_mlp_model_f32.safetensors"), state32,
                              meta)
            with torch.no_grad():
                for p, t in zip(model.parameters(), state32.values()):
                    p.copy_(t.to(torch.float64))
            hesse_st.write(os.path.join(DATA, "fixture_mlp_f32_expected.safetensors"),
                              expectations(model, x, y, classes, v, False))


if __name__ == "__main__":
    main()
