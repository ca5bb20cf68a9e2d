#!/usr/bin/python3
"""Makes the PyTorch parity fixtures of residual networks with batch norm, layer norm, adaptive
pooling and dropout that tests/test_resnet_fixtures.c checks hesse against.

Two cases, both float64 nn.Modules in evaluation mode with PyTorch's initialisation under a
fixed seed, then random non-trivial batch-norm running statistics and random affine parameters
(so that no normalisation is an identity):

  res   pytorch-cifar style: stem conv + BatchNorm2d(eps=1e-3) + ReLU; layer1.0 a BasicBlock with
        an identity shortcut; a LayerNorm over a whole sample (normalized_shape (4, 8, 8));
        layer2.0 a BasicBlock with stride 2 and a projection shortcut (1x1 conv + BatchNorm2d,
        "shortcut.0/1"); AdaptiveAvgPool2d(1); a head nn.Sequential(Linear, LayerNorm, Tanh,
        Dropout, Linear). Module names are given in the arch string ("layer1.0:residual(...)").
  res2  an nn.Sequential with positional names: conv, BatchNorm2d(affine=False) (buffers, no
        parameters), GELU, an unnamed residual block (main conv + sigmoid, shortcut Identity +
        Dropout2d) named "3.0" / "3.shortcut.i", LayerNorm over (H, W), AdaptiveAvgPool2d((2,3))
        on a 5x5 input (windows that do not divide it), Linear, BatchNorm1d(momentum=None), ReLU,
        Linear.

For each it writes to tests/data/:

  fixture_res_<case>_model.safetensors     the state_dict (parameters and buffers, F64 and
                                           num_batches_tracked I64), with __metadata__ "arch"
                                           (hesse's syntax) and "input_shape", no hesse.* keys
  fixture_res_<case>_data.safetensors      x (F64 [N, C, H, W], standard normal), y (I64 [N])
  fixture_res_<case>_expected.safetensors  what PyTorch computes (F64), by tensor name, so that
                                           the test does not depend on a parameter order:
      loss [1]                    mean cross-entropy
      grad/<name>                 its gradient, shaped like the parameter
      v/<name>, hvp/<name>        [2, *shape]: two random directions and the Hessian-vector
                                  products (double backward)
      hessian_eigenvalues [n]     eigvalsh of the full Hessian (autograd.functional.hessian of
                                  the loss as a function of the flat parameters), ascending
      ggn_eigenvalues [n]         eigvalsh of J^T A J (J = autograd.functional.jacobian of the
                                  logits, A = (diag p - p p^T) / N per sample), ascending
      logits [N, C]               the network's outputs

The safetensors files are written by tools/hesse_st.py (pure Python: struct + json). Seeds are
fixed: running the script again writes byte-identical files on the same machine.

Run from anywhere: /usr/bin/python3 tests/make_resnet_fixtures.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hesse_st  # noqa: E402  (pure-Python safetensors: struct + json)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")



class BasicBlock(nn.Module):
    """kuangliu/pytorch-cifar's BasicBlock."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4, eps=1e-3)
        self.layer1 = nn.Sequential(BasicBlock(4, 4, 1))
        self.norm = nn.LayerNorm((4, 8, 8))
        self.layer2 = nn.Sequential(BasicBlock(4, 6, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Dropout(0.3),
                                  nn.Linear(8, 5))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.norm(self.layer1(x))
        x = self.layer2(x)
        return self.head(torch.flatten(self.pool(x), 1))


RES_ARCH = (
    "conv1:conv2d(3,4,3,padding=1),bn1:batchnorm2d(4,eps=1e-3),relu,"
    "layer1.0:residual(conv1:conv2d(4,4,3,padding=1,bias=False),bn1:batchnorm2d(4),relu,"
    "conv2:conv2d(4,4,3,padding=1,bias=False),bn2:batchnorm2d(4)),relu,"
    "norm:layernorm(4,8,8),"
    "layer2.0:residual(conv1:conv2d(4,6,3,stride=2,padding=1,bias=False),bn1:batchnorm2d(6),relu,"
    "conv2:conv2d(6,6,3,padding=1,bias=False),bn2:batchnorm2d(6)"
    "|conv2d(4,6,1,stride=2,bias=False),batchnorm2d(6)),relu,"
    "pool:adaptiveavgpool2d(1),flatten,"
    "head.0:linear(6,8),head.1:layernorm(8),head.2:tanh,head.3:dropout(p=0.3),head.4:linear(8,5)")


class Res(nn.Module):
    """An unnamed residual item of a Sequential: main items "0", "1", shortcut "shortcut"."""

    def __init__(self):
        super().__init__()
        self.add_module("0", nn.Conv2d(3, 3, 3, padding=1))
        self.add_module("1", nn.Sigmoid())
        self.shortcut = nn.Sequential(nn.Identity(), nn.Dropout2d(0.1))

    def forward(self, x):
        main = getattr(self, "1")(getattr(self, "0")(x))
        return main + self.shortcut(x)


def res2():
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, affine=False), nn.GELU(), Res(),
        nn.LayerNorm((5, 5)), nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(), nn.Linear(18, 6),
        nn.BatchNorm1d(6, momentum=None), nn.ReLU(), nn.Linear(6, 4))


RES2_ARCH = ("conv2d(2,3,3,padding=1),batchnorm2d(3,affine=False),gelu,"
             "residual(conv2d(3,3,3,padding=1),sigmoid|identity,dropout2d(p=0.1)),"
             "layernorm(5,5),adaptiveavgpool2d((2,3)),flatten,linear(18,6),"
             "batchnorm1d(6,momentum=None),relu,linear(6,4)")

# name, factory, arch, input shape (c, h, w), classes, samples, seed
CASES = [
    ("res", ResNet, RES_ARCH, (3, 8, 8), 5, 24, 3003),
    ("res2", res2, RES2_ARCH, (2, 5, 5), 4, 20, 4004),
]


def randomise(model, gen):
    """Batch norm statistics and every norm's affine parameters away from their defaults."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(m.running_var.shape, generator=gen))
                m.num_batches_tracked.fill_(37)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)) and \
                    m.weight is not None:
                m.weight.copy_(1.0 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))


def expectations(model, x, y, v):
    """Everything the test compares, computed by PyTorch (autograd) only."""
    names = [name for name, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in params])
    n = theta.numel()

    def unflatten(th):
        out, offset = {}, 0
        for name, p in zip(names, params):
            out[name] = th[offset:offset + p.numel()].view(p.shape)
            offset += p.numel()
        return out

    def flat(ts):
        return torch.cat([t.reshape(-1) for t in ts])

    logits = model(x)
    loss = F.cross_entropy(logits, y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    gflat = flat(g)
    vflat = torch.stack([flat([v[name][j] for name in names]) for j in range(2)])
    hvp = [torch.autograd.grad(gflat @ vflat[j], params, retain_graph=True) for j in range(2)]

    def loss_of(th):
        return F.cross_entropy(functional_call(model, unflatten(th), (x,)), y)

    H = torch.autograd.functional.hessian(loss_of, theta)
    assert H.shape == (n, n)
    H = 0.5 * (H + H.T)

    def logits_of(th):
        return functional_call(model, unflatten(th), (x,))

    J = torch.autograd.functional.jacobian(logits_of, theta)  # [N, C, n]
    with torch.no_grad():
        p = torch.softmax(logits, dim=1)
        A = (torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)) / x.shape[0]
        G = torch.einsum("icp,icd,idq->pq", J, A, J)
        G = 0.5 * (G + G.T)

    out = {"loss": loss.detach().reshape(1), "logits": logits.detach()}
    for i, name in enumerate(names):
        out["grad/" + name] = g[i].detach()
        out["v/" + name] = v[name]
        out["hvp/" + name] = torch.stack([hvp[0][i], hvp[1][i]]).detach()
    out["hessian_eigenvalues"] = torch.linalg.eigvalsh(H)
    out["ggn_eigenvalues"] = torch.linalg.eigvalsh(G)
    return out


def main():
    assert sys.byteorder == "little", "safetensors is little-endian; run on a little-endian host"
    torch.set_default_dtype(torch.float64)
    for name, factory, arch, input_shape, classes, samples, seed in CASES:
        torch.manual_seed(seed)
        model = factory().double()
        gen = torch.Generator().manual_seed(seed + 1)
        randomise(model, gen)
        model.eval()
        x = torch.randn(samples, *input_shape, generator=gen)
        y = torch.randint(0, classes, (samples,), generator=gen)
        v = {pn: torch.randn(2, *p.shape, generator=gen) for pn, p in model.named_parameters()}
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % input_shape}
        n = sum(p.numel() for p in model.parameters())
        prefix = os.path.join(DATA, "fixture_res_%s_" % name)
        hesse_st.write(prefix + "model.safetensors", model.state_dict(), meta)
        hesse_st.write(prefix + "data.safetensors", {"x": x, "y": y},
                          {"num_classes": str(classes)})
        hesse_st.write(prefix + "expected.safetensors", expectations(model, x, y, v))
        print("%s: %d parameters, %d buffers, %d samples" %
              (name, n, sum(1 for _ in model.buffers()), samples))


if __name__ == "__main__":
    main()
