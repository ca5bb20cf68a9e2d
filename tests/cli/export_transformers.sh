# The exporter on transformer models (issue 18): nn.Embedding, learned positions (nn.Embedding
# of torch.arange, tools/models.py's PositionalEmbedding), nn.MultiheadAttention (self-attention,
# bias or not, no mask or the causal one), nn.TransformerEncoderLayer in both norm orders, the
# tokens step of a ViT, mean-pooling and the presets vit-tiny / gpt-tiny: the exact strings it
# emits (each also passed the exporter's own check, hesse's semantics rebuilt in PyTorch by
# tools/hesse_arch.py against the model's output), the fixtures' strings, and one-line refusals
# naming the module and what hesse lacks. PyTorch only (no hesse run): skipped without it.
. "$(dirname "$0")/lib.inc"
TOOLS="$HESSE_SOURCE/tools"
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "export_transformers.sh: PyTorch missing: skipped" >&2
    exit 77
fi

cat >"$T/tnet.py" <<'PY'
"""Transformer models the exporter must translate or refuse (tests/cli/export_transformers.sh)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import models


class HandAttention(nn.Module):
    """Self-attention written by hand (q k^T / sqrt(d), softmax): not nn.MultiheadAttention."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).split(8, dim=-1)
        return F.softmax(q @ k.transpose(1, 2) / 8 ** 0.5, dim=-1) @ v


class SelfAttention(nn.Module):
    """x + attn(x, x, x) with options: the MultiheadAttention kwargs, a mask, cross-attention
    (key and value from a projection), a key padding mask."""

    def __init__(self, mask=None, cross=False, padding=False, **kw):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, **kw)
        self.pre = nn.Linear(8, kw.get("kdim") or 8) if cross else None
        self.mask, self.cross, self.padding = mask, cross, padding

    def forward(self, x):
        kv = self.pre(x) if self.cross else x
        mask = None
        if self.mask == "causal":
            mask = models.causal_mask(x.size(1), x.device)
        elif self.mask == "float":
            mask = torch.triu(torch.full((4, 4), float("-inf")), 1)
        elif self.mask == "tril":
            mask = torch.tril(torch.ones(4, 4, dtype=torch.bool), -1)
        kpm = torch.zeros(x.size(0), 4, dtype=torch.bool) if self.padding else None
        out, _ = self.attn(x, kv, kv, attn_mask=mask, key_padding_mask=kpm, need_weights=False)
        return x + out


class Attn(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.block = SelfAttention(**kw)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.block(x).mean(dim=1))


def Hand():
    return nn.Sequential(HandAttention(), nn.Flatten(), nn.Linear(32, 3))


def Plain():
    return Attn(batch_first=True)


def NoBias():
    return Attn(batch_first=True, bias=False)


def Causal():
    return Attn(mask="causal", batch_first=True)


def CausalFloat():
    return Attn(mask="float", batch_first=True)


def SeqFirst():
    return Attn()


def KDim():
    return Attn(batch_first=True, kdim=4, vdim=4, cross=True)


def BiasKV():
    return Attn(batch_first=True, add_bias_kv=True)


def Tril():
    return Attn(mask="tril", batch_first=True)


def Cross():
    return Attn(cross=True, batch_first=True)


def Padding():
    return Attn(padding=True, batch_first=True)


class Enc(nn.Module):
    def __init__(self, mask=False, **kw):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kw)
        self.mask = mask
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        if self.mask:
            return self.head(self.enc(x, src_mask=models.causal_mask(4)).mean(dim=1))
        return self.head(self.enc(x).mean(dim=1))


def EncSeqFirst():
    return Enc()


def EncMask():
    return Enc(mask=True, batch_first=True)


def EncTanh():
    return Enc(batch_first=True, activation=torch.tanh)


class Tokens(nn.Module):
    """A ViT stem written with a raw nn.Embedding of arange for the positions (nanoGPT's wpe)."""

    def __init__(self, padding_idx=None):
        super().__init__()
        self.tok = nn.Embedding(11, 8, padding_idx=padding_idx)
        self.wpe = nn.Embedding(6, 8)
        self.ln = nn.LayerNorm(8)
        self.head = nn.Linear(8, 11)

    def forward(self, idx):
        x = self.tok(idx) + self.wpe(torch.arange(idx.size(1)))
        return self.head(self.ln(x))


def Wpe():
    return Tokens()


def PadIdx():
    return Tokens(padding_idx=0)


class Patches(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(1, 8, 2, stride=2)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.patch(x).flatten(2).transpose(1, 2).mean(dim=1))


def EncPre():
    return Enc(batch_first=True, norm_first=True, activation="gelu")


def EncPost():
    return Enc(batch_first=True, dropout=0.2)
PY

# The strings the exporter emits for the factories of tnet.py (model, input shape, string)
checks=$((checks + 1))
(cd "$T" && "$PY" - "$TOOLS" "$T") <<'PY' || fail "exported strings"
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import hesse_export, tnet
bad = 0
for name, shape, want in [
    ("Plain", (4, 8), "block:residual(attn:multiheadattention(8,2)),meanpool,head:linear(8,3)"),
    ("NoBias", (4, 8),
     "block:residual(attn:multiheadattention(8,2,bias=False)),meanpool,head:linear(8,3)"),
    # the causal mask recognised by its value, boolean or float (-inf above the diagonal)
    ("Causal", (4, 8),
     "block:residual(attn:multiheadattention(8,2,causal=True)),meanpool,head:linear(8,3)"),
    ("CausalFloat", (4, 8),
     "block:residual(attn:multiheadattention(8,2,causal=True)),meanpool,head:linear(8,3)"),
    # nanoGPT's wte(idx) + wpe(torch.arange(T)): token ids in, posembed named after wpe
    ("Wpe", (6,), "tok:embedding(11,8),wpe:posembed(6,8),ln:layernorm(8),head:linear(8,11)"),
    ("Patches", (1, 4, 4), "patch:conv2d(1,8,2,stride=2),tokens,meanpool,head:linear(8,3)"),
    ("EncPre", (4, 8),
     "enc:residual(norm1:layernorm(8),self_attn:multiheadattention(8,2)),"
     "enc:residual(norm2:layernorm(8),linear1:linear(8,16),gelu,linear2:linear(16,8)),"
     "meanpool,head:linear(8,3)"),
    ("EncPost", (4, 8),
     "enc:residual(self_attn:multiheadattention(8,2)),enc.norm1:layernorm(8),"
     "enc:residual(linear1:linear(8,16),relu,linear2:linear(16,8)),enc.norm2:layernorm(8),"
     "meanpool,head:linear(8,3)")]:
    got = hesse_export.to_hesse(getattr(tnet, name)().eval(), shape)[0]
    if got != want:
        print("%s: exported '%s', expected '%s'" % (name, got, want), file=sys.stderr)
        bad += 1
sys.exit(bad)
PY

# The presets: tools/models.py's classes export to the strings models.py documents (hesse's
# vit-tiny / gpt-tiny expansions), with the input shape of token ids in the file's metadata;
# the fixtures' models export to the strings their files carry, and those strings, rebuilt by
# tools/hesse_arch.py with the files' tensors, give the fixtures' logits.
checks=$((checks + 1))
(cd "$T" && "$PY" - "$TOOLS" "$HESSE_SOURCE/tests" "$HESSE_TEST_DATA" "$T") <<'PY' || fail "presets and fixtures"
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import torch
import hesse_arch, hesse_export, hesse_st, models
import make_transformer_fixtures as mtf
data, T = sys.argv[3], sys.argv[4]
torch.manual_seed(0)
for spec, want in (("gpt-tiny", models.gpt_arch()), ("vit-tiny", models.vit_arch()),
                   ("gpt-tiny(context=16,width=32,depth=1,num_classes=50)",
                    models.gpt_arch(num_classes=50, context=16, depth=1, width=32)),
                   ("vit-tiny(num_classes=5,depth=3,width=16)",
                    models.vit_arch(num_classes=5, depth=3, width=16))):
    model, shape = models.preset(spec)
    arch = hesse_export.export(model.eval(), T + "/p.safetensors", shape)
    assert arch == want, (spec, arch, want)
    meta = hesse_st.read_header(T + "/p.safetensors")[1]
    ids = spec.startswith("gpt")
    assert meta["hesse.input_shape"] == ("1,%d,1" % shape[0] if ids else "1,28,28"), meta
    assert list(hesse_st.read(T + "/p.safetensors")[0]) == list(model.state_dict()), spec
torch.set_default_dtype(torch.float64)
for name, factory, arch, seed in mtf.CASES:
    model, x, hx, y, shape, classes = factory(torch.Generator().manual_seed(seed))
    got = hesse_export.to_hesse(model.double().eval(), tuple(x.shape[1:]))[0]
    assert got == arch, (name, got, arch)
    tensors, meta = hesse_st.read("%s/fixture_tf_%s_model.safetensors" % (data, name))
    assert meta["arch"] == arch, name
    net = hesse_arch.ArchNet(arch)
    net.load_state_dict(tensors, strict=True)
    want = hesse_st.read("%s/fixture_tf_%s_expected.safetensors" % (data, name))[0]["logits"]
    xin = hesse_st.read("%s/fixture_tf_%s_data.safetensors" % (data, name))[0]["x"]
    xin = xin if name in ("lm", "vit") else xin.reshape(xin.shape[0], *xin.shape[2:])
    with torch.no_grad():
        err = float((net.eval()(xin) - want).abs().max())
    assert err <= 1e-12 * float(want.abs().max()), (name, err)
PY

# Refusals: exit 2, one line naming the module and what hesse lacks
refused() {
    model=$1 shape=$2 pattern=$3
    expect_error 2 "^hesse_export: $pattern" -- \
        "$PY" "$TOOLS/hesse_export.py" "$T/tnet.py:$model" --input-shape "$shape" -o "$T/out.safetensors"
}
refused Hand 4,8 "module '0' \(HandAttention\): indexing/slicing a tensor is not supported"
refused SeqFirst 4,8 "module 'block\.attn' \(MultiheadAttention\): batch_first=False"
refused KDim 4,8 "module 'block\.attn' \(MultiheadAttention\): kdim=4, vdim=4 differ from embed_dim=8"
refused BiasKV 4,8 "module 'block\.attn' \(MultiheadAttention\): add_bias_kv=True is not supported"
refused Tril 4,8 "module 'block\.attn' \(MultiheadAttention\): attn_mask is not the causal mask"
refused Cross 4,8 "module 'block\.attn' \(MultiheadAttention\): query, key and value are not one tensor"
refused Padding 4,8 "module 'block\.attn' \(MultiheadAttention\): key_padding_mask is not supported"
refused EncSeqFirst 4,8 "module 'enc' \(TransformerEncoderLayer\): batch_first=False"
refused EncMask 4,8 "module 'enc' \(TransformerEncoderLayer\): called with a mask"
refused EncTanh 4,8 "module 'enc' \(TransformerEncoderLayer\): activation tanh is not supported \(hesse: relu or gelu\)"
refused PadIdx 6 "module 'tok' \(Embedding\): padding_idx=0 keeps that row's gradient at zero"
finish
