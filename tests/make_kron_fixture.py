#!/usr/bin/python3
"""Makes the exact-E[M] Kronecker fixtures that tests/test_kronecker.c checks hesse against.

Wu et al., "Dissecting Hessian" (shared/PAPERS.md sec. 2): for a linear layer z = W x + b the
weight Hessian is H_W = E_i[M_i (x) x_i x_i^T] with M_i = d^2 l_i / dz^2 exactly, through every
later nonlinearity. For a convolution (hesse's convention, the KFC one) x runs over the im2col
patches of every output position, E[x x^T] is the mean over samples and positions, and
M_i = sum_p of the Cout x Cout diagonal position blocks d^2 l_i / dz_{.,p} dz_{.,p}.

For each case (small nn.Sequential nets with curved activations after the factor layers:
tanh; sigmoid and GELU; a conv followed by tanh), float64, PyTorch's own initialisation under
a fixed seed, it writes to tests/data/:

  fixture_kron_<case>_model.safetensors     the state_dict, metadata "arch" (hesse's syntax)
                                            and "input_shape" ("c,h,w")
  fixture_kron_<case>_data.safetensors      x (F64 [N, c, h, w], standard normal + 0.5, so
                                            that E[x] is not ~0) and y (I64 [N])
  fixture_kron_<case>_expected.safetensors  per linear / conv layer i (its module index), all
                                            computed by autograd here, nothing by hesse:
      <i>.M [out, out]           E[M], M_i = torch.autograd.functional.hessian of sample i's
                                 cross-entropy in the layer's output z_i (conv: the sum of
                                 the diagonal position blocks)
      <i>.M_eigenvalues [out]    its eigenvalues, descending
      <i>.M_ggn_eigenvalues      the eigenvalues of E[J^T A J] (J = d logits / dz_i, A =
                                 diag p - p p^T): what --M ggn gives
      <i>.xx [in, in]            E[x x^T] (conv: F.unfold patches over samples and positions)
      <i>.xx_eigenvalues [in]    descending
      <i>.kron_top [k]           the k largest products mu_a nu_b
      <i>.exact_top [k]          the k largest eigenvalues of the exact weight block of the
                                 mean loss (torch.autograd.functional.hessian in the weight)
      <i>.overlap [1]            ||V_1^T V_2||_F^2 / k of the top-k eigenvectors of the block
                                 and of E[M] (x) E[xx^T] (u_a (x) w_b in row-major vec(W))
      <i>.mean [4]               |E[x]|, |E[x]|^2 / ||E[xx^T]||_F, |E[x]|^2 / lambda_max,
                                 |<u_1, E[x] / |E[x]|>|
  with metadata "k" and "layers" (the module indices, comma-separated).

The writer below is plain struct + json (no NumPy). Seeds are fixed: running the script again
writes the same files on the same machine.

Run from anywhere: /usr/bin/python3 tests/make_kron_fixture.py
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
K = 5

CASES = [
    # name, (hesse token, module) pairs, input shape, classes, samples, seed
    ("tanh", [("flatten", nn.Flatten()), ("linear(6,5)", nn.Linear(6, 5)), ("tanh", nn.Tanh()),
              ("linear(5,4)", nn.Linear(5, 4)), ("tanh", nn.Tanh()),
              ("linear(4,3)", nn.Linear(4, 3))], (1, 2, 3), 3, 24, 3101),
    ("gelu", [("flatten", nn.Flatten()), ("linear(6,5)", nn.Linear(6, 5)),
              ("sigmoid", nn.Sigmoid()), ("linear(5,4)", nn.Linear(5, 4)), ("gelu", nn.GELU()),
              ("linear(4,3)", nn.Linear(4, 3))], (1, 2, 3), 3, 24, 3202),
    ("conv", [("conv2d(2,3,3,padding=1)", nn.Conv2d(2, 3, 3, padding=1)), ("tanh", nn.Tanh()),
              ("flatten", nn.Flatten()), ("linear(48,3)", nn.Linear(48, 3))],
     (2, 4, 4), 3, 16, 3303),
]


def st_write(path, tensors, metadata=None):
    """safetensors: 8-byte little-endian header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().reshape(-1)
        if t.dtype == torch.float64:
            code, b = "F64", struct.pack("<%dd" % t.numel(), *t.tolist())
        elif t.dtype == torch.int64:
            code, b = "I64", struct.pack("<%dq" % t.numel(), *t.tolist())
        else:
            raise ValueError("%s: dtype %s" % (name, t.dtype))
        header[name] = {"dtype": code, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def eig_desc(A):
    w, V = torch.linalg.eigh(0.5 * (A + A.T))
    return w.flip(0), V.flip(1)


def layer_inputs(model, l, x):
    """The layer's input rows: [N, in, P] (linear: P = 1; conv: the unfold patches)."""
    a = model[:l](x)
    m = model[l]
    if isinstance(m, nn.Conv2d):
        return F.unfold(a, m.kernel_size, dilation=m.dilation, padding=m.padding,
                        stride=m.stride)
    return a.unsqueeze(2)


def output_factor(model, l, x, y, ggn):
    """E[M] (ggn False: the exact per-sample Hessian in z; True: J^T A J), summed over the
    diagonal position blocks for a conv."""
    rest = model[l + 1:]
    z = model[:l + 1](x).detach()
    Co = z.shape[1]
    total = torch.zeros(Co, Co)
    for i in range(x.shape[0]):
        zi = z[i:i + 1]
        if ggn:
            J = torch.autograd.functional.jacobian(lambda t: rest(t)[0], zi)  # [C, 1, Co, ...]
            J = J.reshape(J.shape[0], -1)
            with torch.no_grad():
                p = torch.softmax(rest(zi)[0], 0)
            H = J.T @ (torch.diag(p) - torch.outer(p, p)) @ J
        else:
            H = torch.autograd.functional.hessian(
                lambda t: F.cross_entropy(rest(t), y[i:i + 1]), zi)
            H = H.reshape(zi.numel(), zi.numel())
        P = zi.numel() // Co
        H = H.reshape(Co, P, Co, P)
        total += torch.einsum("apbp->ab", H)
    M = total / x.shape[0]
    return 0.5 * (M + M.T)


def weight_block(model, l, x, y):
    """The exact Hessian of the mean loss in layer l's weight, in row-major vec(W)."""
    m = model[l]
    W0 = m.weight.detach().clone()

    def loss_of(wflat):
        a = model[:l](x)
        if isinstance(m, nn.Conv2d):
            z = F.conv2d(a, wflat.view_as(W0), m.bias, m.stride, m.padding, m.dilation)
        else:
            z = F.linear(a, wflat.view_as(W0), m.bias)
        return F.cross_entropy(model[l + 1:](z), y)

    H = torch.autograd.functional.hessian(loss_of, W0.reshape(-1))
    return 0.5 * (H + H.T)


def layer_expectations(model, l, x, y):
    cols = layer_inputs(model, l, x).detach()  # [N, in, P]
    N, n_in, P = cols.shape
    xx = torch.einsum("nkp,njp->kj", cols, cols) / (N * P)
    xx = 0.5 * (xx + xx.T)
    mean = cols.sum(dim=(0, 2)) / (N * P)
    M = output_factor(model, l, x, y, False)
    Mg = output_factor(model, l, x, y, True)
    mu, U = eig_desc(M)
    nu, Wv = eig_desc(xx)
    products = sorted(((mu[a].item() * nu[b].item(), a, b) for a in range(mu.numel())
                       for b in range(nu.numel())), key=lambda t: -t[0])
    top = products[:K]
    assert products[K - 1][0] - products[K][0] > 1e-6 * abs(products[0][0]), "Kronecker tie"
    Vk = torch.stack([torch.kron(U[:, a], Wv[:, b]) for _, a, b in top], 1)
    lam, Ve = eig_desc(weight_block(model, l, x, y))
    gap = (lam[K - 1] - lam[K]) / lam[0]
    assert gap > 1e-4, "exact block: eigenvalue gap %.3g at k" % gap
    overlap = (Vk.T @ Ve[:, :K]).pow(2).sum() / K
    mnorm = mean.norm()
    dom = torch.stack([mnorm, mnorm ** 2 / xx.norm(), mnorm ** 2 / nu[0],
                       (Wv[:, 0] @ mean).abs() / mnorm])
    print("  layer %d: M %s, exact top %s, Kronecker top %s, overlap %.4f, GGN M %s, gap %.3g"
          % (l, fmt(mu), fmt(lam[:K]), fmt([t[0] for t in top]), overlap.item(),
             fmt(eig_desc(Mg)[0]), gap.item()))
    p = "%d." % l
    return {p + "M": M, p + "M_eigenvalues": mu, p + "M_ggn_eigenvalues": eig_desc(Mg)[0],
            p + "xx": xx, p + "xx_eigenvalues": nu,
            p + "kron_top": torch.tensor([t[0] for t in top]), p + "exact_top": lam[:K],
            p + "overlap": overlap.reshape(1), p + "mean": dom}


def fmt(v):
    return "[" + " ".join("%.4g" % float(t) for t in v) + "]"


def main():
    assert sys.byteorder == "little"
    torch.set_default_dtype(torch.float64)
    for name, layers, shape, classes, samples, seed in CASES:
        torch.manual_seed(seed)
        model = nn.Sequential(*[type(m)(*init_args(m)) for _, m in layers]).double()
        arch = ",".join(t for t, _ in layers)
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(samples, *shape, generator=gen) + 0.5
        y = torch.randint(0, classes, (samples,), generator=gen)
        print("%s: %s" % (name, arch))
        expected, which = {}, []
        for l, m in enumerate(model):
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                expected.update(layer_expectations(model, l, x, y))
                which.append(str(l))
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % shape}
        base = os.path.join(DATA, "fixture_kron_%s_" % name)
        st_write(base + "model.safetensors", model.state_dict(), meta)
        st_write(base + "data.safetensors", {"x": x, "y": y}, {"num_classes": str(classes)})
        st_write(base + "expected.safetensors", expected, {"k": K, "layers": ",".join(which)})


def init_args(m):
    """The constructor arguments of the template module m (a fresh module under the seed)."""
    if isinstance(m, nn.Linear):
        return (m.in_features, m.out_features)
    if isinstance(m, nn.Conv2d):
        return (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
    return ()


if __name__ == "__main__":
    main()
