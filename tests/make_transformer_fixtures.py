#!/usr/bin/python3
"""Makes the PyTorch parity fixtures of transformer models that tests/test_transformer_fixtures.c
checks hesse against (issue 18's acceptance).

Four cases, float64 nn.Modules in evaluation mode with PyTorch's initialisation under a fixed
seed, then random layer-norm affine parameters and attention biases (PyTorch initialises the
latter to zero), so that no term vanishes:

  lm        a 1-block causal transformer language model, tools/models.py GPTTiny(num_classes=7,
            context=5, depth=1, width=8, heads=2, mlp=16): token embedding (vocabulary 7), learned
            positions, pre-LN block (causal nn.MultiheadAttention, 2 heads; MLP 8-16-8 with GELU),
            LayerNorm, linear head at every position. Input: N = 4 windows of T = 5 token ids;
            labels: the next token at every position (y[i, t] = the window's token t + 1).
            Next-token cross-entropy over all N*T positions, F.cross_entropy(logits.view(-1, V),
            y.view(-1)); also the MSE against one-hot targets, F.mse_loss(logits, one_hot(y)).
  vit       a 1-block ViT-style classifier, tools/models.py ViTTiny(num_classes=3, depth=1,
            width=8, heads=2, mlp=16, channels=2, image=4, patch=2): conv patches (2x2, stride 2)
            -> 4 tokens -> learned positions -> pre-LN block -> LayerNorm -> mean over tokens ->
            linear. Input: N = 6 images 2x4x4.
  enc_pre   nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1,
            activation="gelu", batch_first=True, norm_first=True) on real-valued sequences
            [N, T=4, D=8] (N = 5), then flatten and Linear(32, 3).
  enc_post  the same layer with norm_first=False and activation="relu" (post-LN: the layer norms
            follow the residual additions), then the mean over tokens and Linear(8, 3).

hesse's shapes (docs/architectures.md, issue 18): a sequence [T, D] is one sample of shape
(c, h, w) = (1, T, D); token ids are (1, T, 1), stored as numbers in x; a model whose output is
not flat has P = c*h positions of V = w classes each, labels y[i, t] (y[i*P + t] flat).

For each case it writes to tests/data/:

  fixture_tf_<case>_model.safetensors     the state_dict (F64) with __metadata__ "arch" (hesse's
                                          syntax, module names giving PyTorch's tensor names) and
                                          "input_shape" (hesse's c,h,w), no hesse.* keys
  fixture_tf_<case>_data.safetensors      x (F64 [N, c, h, w]: ids as numbers for lm), y (I64 [N]
                                          or [N, T] for lm), metadata num_classes
  fixture_tf_<case>_expected.safetensors  what PyTorch computes (F64), by tensor name:
      loss [1]                  the mean cross-entropy (over N*T positions for lm)
      logits [N, C] / [N, T, V] the network's outputs
      grad/<name>               the gradient, shaped like the parameter
      v/<name>, hvp/<name>      [2, *shape]: two random directions and their Hessian-vector
                                products (double backward)
      hessian_eigenvalues [n]   eigvalsh of the full Hessian (autograd.functional.hessian of the
                                loss as a function of the flat parameters), ascending
      ggn_eigenvalues [n]       eigvalsh of J^T A J (J = autograd.functional.jacobian of the
                                logits, A = (diag p - p p^T) / (N P) per position), ascending
      mse_loss, mse_grad/<name>, mse_hvp/<name>   (lm only) the same for the MSE loss

The safetensors files are written by tools/hesse_st.py. Seeds are fixed: running the script
again writes byte-identical files on the same machine and PyTorch version.

Run from anywhere: /usr/bin/python3 tests/make_transformer_fixtures.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, TOOLS)
import hesse_st  # noqa: E402  (safetensors writer)
import models  # noqa: E402  (GPTTiny, ViTTiny and their hesse strings)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class EncoderClassifier(nn.Module):
    """nn.TransformerEncoderLayer on [N, T, D], then a flatten or mean-pool head."""

    def __init__(self, norm_first, activation, pool):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1,
                                              activation=activation, batch_first=True,
                                              norm_first=norm_first)
        self.pool = pool
        self.head = nn.Linear(8 if pool else 32, 3)

    def forward(self, x):
        x = self.enc(x)
        return self.head(x.mean(dim=1) if self.pool else x.flatten(1))


ENC_PRE_ARCH = ("enc:residual(norm1:layernorm(8),self_attn:multiheadattention(8,2)),"
                "enc:residual(norm2:layernorm(8),linear1:linear(8,16),gelu,linear2:linear(16,8)),"
                "flatten,head:linear(32,3)")
ENC_POST_ARCH = ("enc:residual(self_attn:multiheadattention(8,2)),enc.norm1:layernorm(8),"
                 "enc:residual(linear1:linear(8,16),relu,linear2:linear(16,8)),"
                 "enc.norm2:layernorm(8),meanpool,head:linear(8,3)")


def lm_case(gen):
    model = models.GPTTiny(num_classes=7, context=5, depth=1, width=8, heads=2, mlp=16)
    seq = torch.randint(0, 7, (4, 6), generator=gen)
    ids, y = seq[:, :5], seq[:, 1:]
    return model, ids, ids.double().reshape(4, 1, 5, 1), y, (1, 5, 1), 7


def vit_case(gen):
    model = models.ViTTiny(num_classes=3, depth=1, width=8, heads=2, mlp=16, channels=2,
                           image=4, patch=2)
    x = torch.randn(6, 2, 4, 4, generator=gen)
    return model, x, x, torch.randint(0, 3, (6,), generator=gen), (2, 4, 4), 3


def enc_case(norm_first, activation, pool):
    def make(gen):
        model = EncoderClassifier(norm_first, activation, pool)
        x = torch.randn(5, 4, 8, generator=gen)
        return model, x, x.reshape(5, 1, 4, 8), torch.randint(0, 3, (5,), generator=gen), \
            (1, 4, 8), 3
    return make


# name, factory(gen) -> (model, torch input, hesse x, y, hesse input shape, classes), arch, seed
CASES = [
    ("lm", lm_case, models.gpt_arch(num_classes=7, context=5, depth=1, width=8, heads=2, mlp=16),
     1801),
    ("vit", vit_case, models.vit_arch(num_classes=3, depth=1, width=8, heads=2, mlp=16,
                                      channels=2, image=4, patch=2), 1802),
    ("enc_pre", enc_case(True, "gelu", False), ENC_PRE_ARCH, 1803),
    ("enc_post", enc_case(False, "relu", True), ENC_POST_ARCH, 1804),
]


def randomise(model, gen):
    """Layer-norm affine parameters and attention biases away from their defaults."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, nn.MultiheadAttention) and m.in_proj_bias is not None:
                m.in_proj_bias.copy_(0.3 * torch.randn(m.in_proj_bias.shape, generator=gen))
                m.out_proj.bias.copy_(0.3 * torch.randn(m.out_proj.bias.shape, generator=gen))


def expectations(model, x, y, v, classes, mse):
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

    def ce(logits):
        return F.cross_entropy(logits.reshape(-1, classes), y.reshape(-1))

    def mse_of(logits):
        return F.mse_loss(logits, F.one_hot(y, classes).double())

    logits = model(x)
    vflat = torch.stack([flat([v[name][j] for name in names]) for j in range(2)])
    out = {"logits": logits.detach()}
    for lossf, pre in ((ce, ""), (mse_of, "mse_")) if mse else ((ce, ""),):
        loss = lossf(model(x))
        g = torch.autograd.grad(loss, params, create_graph=True)
        gflat = flat(g)
        hvp = [torch.autograd.grad(gflat @ vflat[j], params, retain_graph=True)
               for j in range(2)]
        out[pre + "loss"] = loss.detach().reshape(1)
        for i, name in enumerate(names):
            out[pre + "grad/" + name] = g[i].detach()
            out[pre + "hvp/" + name] = torch.stack([hvp[0][i], hvp[1][i]]).detach()
    for name in names:
        out["v/" + name] = v[name]

    def loss_of(th):
        return ce(functional_call(model, unflatten(th), (x,)))

    H = torch.autograd.functional.hessian(loss_of, theta)
    assert H.shape == (n, n)
    H = 0.5 * (H + H.T)

    def logits_of(th):
        return functional_call(model, unflatten(th), (x,))

    J = torch.autograd.functional.jacobian(logits_of, theta).reshape(-1, classes, n)  # [NP, V, n]
    with torch.no_grad():
        p = torch.softmax(logits.reshape(-1, classes), dim=1)
        A = (torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)) / p.shape[0]
        G = torch.einsum("icp,icd,idq->pq", J, A, J)
        G = 0.5 * (G + G.T)
    out["hessian_eigenvalues"] = torch.linalg.eigvalsh(H)
    out["ggn_eigenvalues"] = torch.linalg.eigvalsh(G)
    return out


def main():
    assert sys.byteorder == "little", "safetensors is little-endian; run on a little-endian host"
    torch.set_default_dtype(torch.float64)
    for name, factory, arch, seed in CASES:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        model, x, hx, y, shape, classes = factory(gen)
        model = model.double()
        randomise(model, gen)
        model.eval()
        v = {pn: torch.randn(2, *p.shape, generator=gen) for pn, p in model.named_parameters()}
        if name == "lm":  # causal: a changed last token leaves the earlier positions' logits
            changed = x.clone()
            changed[:, -1] = (changed[:, -1] + 1) % classes
            with torch.no_grad():
                a, b = model(x), model(changed)
            assert torch.equal(a[:, :-1], b[:, :-1]) and not torch.equal(a[:, -1], b[:, -1])
        meta = {"format": "pt", "arch": arch, "input_shape": "%d,%d,%d" % shape}
        prefix = os.path.join(DATA, "fixture_tf_%s_" % name)
        hesse_st.write(prefix + "model.safetensors", model.state_dict(), meta)
        hesse_st.write(prefix + "data.safetensors", {"x": hx, "y": y},
                       {"num_classes": str(classes)})
        hesse_st.write(prefix + "expected.safetensors",
                       expectations(model, x, y, v, classes, mse=name == "lm"))
        print("%s: %d parameters, %d samples, arch %s" %
              (name, sum(p.numel() for p in model.parameters()), x.shape[0], arch))


if __name__ == "__main__":
    main()
