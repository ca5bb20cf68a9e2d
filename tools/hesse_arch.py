"""hesse architecture strings in Python: a parser, and a PyTorch module that computes what
hesse computes for a string, with hesse's tensor names.

    item     := [name ":"] layer
    layer    := kind [ "(" arg { "," arg } ")" ]
              | "residual" "(" item { "," item } [ "|" item { "," item } ] ")"
    arg      := value | key "=" value
    value    := number | "(" int { "," int } ")" | True | False | None | identifier | 'word'
    name     := [A-Za-z0-9_.]+  (a PyTorch module path)

Tensor names: an item named N owns N.weight, N.bias (and N.running_mean, N.running_var,
N.num_batches_tracked for batch norm). An unnamed item at top-level position i is named "i";
inside a residual block named B, an unnamed main item at position i is "B.i" and an unnamed
shortcut item "B.shortcut.i"; a named item inside B is "B.<its name>". residual(main | short)
computes main(x) + short(x); without "|" the shortcut is the identity.

The module built here (ArchNet) is the reference the exporter checks its strings against;
it is also a way to evaluate a hesse model file in PyTorch (load_hesse_model).

Shapes are PyTorch's: images [N, C, H, W], flat features [N, F], sequences [N, T, D] (hesse's
(1, T, D)), token ids [N, T] (hesse's (1, T, 1); any number type, or [N, 1, T, 1]). linear and
layernorm act on the last dimension(s) as nn.Linear and nn.LayerNorm do; embedding(V, D) is
nn.Embedding; posembed(T, D) adds rows 0..T'-1 of its weight [T, D] (an nn.Embedding(T, D)
applied to arange(T')); tokens is x.flatten(2).transpose(1, 2); meanpool is x.mean(dim=1);
multiheadattention(D, heads, causal=False, bias=True) is nn.MultiheadAttention(D, heads,
bias=bias, batch_first=True) called as attn(x, x, x, need_weights=False[, attn_mask=the causal
mask]).
"""
import re

import torch
import torch.nn as nn


class ArchError(ValueError):
    pass


_NAME = re.compile(r"[A-Za-z0-9_.]+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Parser:
    def __init__(self, text):
        self.s = text
        self.i = 0

    def error(self, what):
        raise ArchError("architecture: %s at character %d of \"%s\"" % (what, self.i + 1, self.s))

    def space(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self):
        self.space()
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, c):
        if self.peek() != c:
            self.error("expected '%s'" % c)
        self.i += 1

    def items(self, closers):
        out = [self.item()]
        while self.peek() == ",":
            self.i += 1
            out.append(self.item())
        if self.peek() not in closers:
            self.error("expected ',' between layers")
        return out

    def item(self):
        self.space()
        pos = self.i
        m = _NAME.match(self.s, self.i)
        if not m:
            self.error("expected a layer")
        self.i = m.end()
        name = None
        if self.peek() == ":":
            name = m.group(0)
            if name.startswith(".") or name.endswith(".") or ".." in name:
                self.error("bad module name '%s'" % name)
            self.i += 1
            self.space()
            m = _WORD.match(self.s, self.i)
            if not m:
                self.error("expected a layer after '%s:'" % name)
            self.i = m.end()
        kind = m.group(0).lower()
        if not _WORD.fullmatch(kind):
            self.error("expected a layer name, got '%s'" % kind)
        it = {"name": name, "kind": kind, "args": [], "pos": pos}
        if kind == "residual":
            self.expect("(")
            it["main"] = self.items(("|", ")"))
            it["shortcut"] = None
            if self.peek() == "|":
                self.i += 1
                it["shortcut"] = self.items((")",))
            self.expect(")")
            return it
        if self.peek() == "(":
            self.i += 1
            if self.peek() != ")":
                while True:
                    it["args"].append(self.arg())
                    if self.peek() == ",":
                        self.i += 1
                        continue
                    if self.peek() != ")":
                        self.error("expected ',' or ')'")
                    break
            self.i += 1
        return it

    def arg(self):
        self.space()
        m = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=").match(self.s, self.i)
        key = None
        if m:
            key = m.group(1).lower()
            self.i = m.end()
        return key, self.value()

    def value(self):
        c = self.peek()
        if c == "(":
            self.i += 1
            vals = [self.number()]
            while self.peek() == ",":
                self.i += 1
                vals.append(self.number())
            self.expect(")")
            return tuple(vals)
        if c in "'\"":
            end = self.s.find(c, self.i + 1)
            if end < 0:
                self.error("unterminated quoted value")
            v = self.s[self.i + 1:end]
            self.i = end + 1
            return v
        m = _WORD.match(self.s, self.i)
        if m:
            self.i = m.end()
            w = m.group(0)
            if w.lower() in ("true", "false"):
                return w.lower() == "true"
            if w == "None":
                return None
            return w
        return self.number()

    def number(self):
        self.space()
        m = _NUMBER.match(self.s, self.i)
        if not m:
            self.error("expected a value")
        self.i = m.end()
        t = m.group(0)
        return int(t) if re.fullmatch(r"[-+]?\d+", t) else float(t)


def parse(arch):
    """The item tree of an architecture string (presets are not expanded here)."""
    p = _Parser(arch)
    items = p.items(("",))
    if p.peek() != "":
        p.error("unexpected text")
    return items


# kind -> positional argument names (PyTorch's constructor order)
SIGNATURES = {
    "linear": ["in_features", "out_features", "bias"],
    "conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "bias",
               "dilation", "groups"],
    "maxpool2d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"],
    "avgpool2d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"],
    "adaptiveavgpool2d": ["output_size"],
    "batchnorm2d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
    "batchnorm1d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
    "dropout": ["p", "inplace"],
    "dropout2d": ["p", "inplace"],
    "gelu": ["approximate"],
    "flatten": ["start_dim", "end_dim"],
    "embedding": ["num_embeddings", "embedding_dim"],
    "posembed": ["num_embeddings", "embedding_dim"],
    "multiheadattention": ["embed_dim", "num_heads", "causal", "bias"],
}
ALIASES = {"maxpool": "maxpool2d", "avgpool": "avgpool2d", "conv": "conv2d"}
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class _Embedding(nn.Embedding):
    """Token ids of any number type, [N, T] or hesse's [N, 1, T, 1]."""

    def forward(self, x):
        return super().forward(x.reshape(x.shape[0], -1).long())


class _PosEmbed(nn.Embedding):
    def forward(self, x):
        if x.size(1) > self.num_embeddings:
            raise ArchError("context %d longer than posembed(%d)" % (x.size(1),
                                                                     self.num_embeddings))
        return x + self.weight[:x.size(1)]


class SelfAttention(nn.MultiheadAttention):
    """hesse's multiheadattention(D, heads, causal, bias): nn.MultiheadAttention (batch_first)
    with the sequence as query, key and value, need_weights=False, and with causal=True the
    boolean attn_mask that is True above the diagonal. Takes hesse's (N, 1, T, D) or PyTorch's
    (N, T, D) and answers in the same shape; its state_dict names are nn.MultiheadAttention's."""

    def __init__(self, d, heads, causal=False, bias=True):
        super().__init__(d, heads, bias=bias, batch_first=True, dtype=torch.float64)
        self.causal = causal

    def forward(self, x):
        shape = x.shape
        x = x.reshape(shape[0], shape[-2], shape[-1])
        t = x.shape[1]
        mask = (torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1)
                if self.causal else None)
        return super().forward(x, x, x, need_weights=False, attn_mask=mask)[0].reshape(shape)


class _Lambda(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def _bind(it, path):
    kind = it["kind"]
    if kind == "layernorm":  # leading positional integers (or one tuple) are the shape
        dims, kw = [], {}
        for k, v in it["args"]:
            if k is not None:
                kw[k] = v
            elif isinstance(v, tuple):
                dims += list(v)
            elif isinstance(v, int) and "eps" not in kw:
                dims.append(v)
            else:
                kw["eps"] = v
        return dims, kw
    names = SIGNATURES.get(kind, ["inplace"])
    out, positional = {}, 0
    for key, v in it["args"]:
        if key is None:
            if positional >= len(names):
                raise ArchError("architecture: %s (%s) takes at most %d arguments" %
                                (path, kind, len(names)))
            key = names[positional]
            positional += 1
        elif key not in names:
            raise ArchError("architecture: %s (%s) has no argument '%s'" % (path, kind, key))
        if key in out:
            raise ArchError("architecture: %s (%s): argument '%s' given twice" % (path, kind, key))
        out[key] = v
    return None, out


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def make_layer(it, path):
    """The PyTorch module computing one (non-residual) item, as hesse does."""
    kind = ALIASES.get(it["kind"], it["kind"])
    dims, a = _bind(dict(it, kind=kind), path)
    if kind == "linear":
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True),
                         dtype=torch.float64)
    if kind == "conv2d":
        if _pair(a.get("dilation", 1)) != (1, 1) or a.get("groups", 1) != 1:
            raise ArchError("architecture: %s: dilation and groups must be 1" % path)
        return nn.Conv2d(a["in_channels"], a["out_channels"], _pair(a["kernel_size"]),
                         stride=_pair(a.get("stride", 1)), padding=_pair(a.get("padding", 0)),
                         bias=a.get("bias", True), dtype=torch.float64)
    if kind in ("maxpool2d", "avgpool2d"):
        k = _pair(a["kernel_size"])
        s = _pair(a["stride"]) if "stride" in a else k
        p = _pair(a.get("padding", 0))
        if kind == "maxpool2d":
            return nn.MaxPool2d(k, s, p)
        return nn.AvgPool2d(k, s, p)
    if kind == "adaptiveavgpool2d":
        return nn.AdaptiveAvgPool2d(_pair(a.get("output_size", 1)))
    if kind in ("batchnorm2d", "batchnorm1d"):
        cls = nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d
        if not a.get("track_running_stats", True):
            raise ArchError("architecture: %s: track_running_stats=False is not supported" % path)
        m = cls(a["num_features"], eps=float(a.get("eps", 1e-5)), affine=a.get("affine", True),
                dtype=torch.float64)
        return m.eval()
    if kind == "layernorm":
        return nn.LayerNorm(tuple(dims), eps=float(a.get("eps", 1e-5)),
                            elementwise_affine=a.get("elementwise_affine", True),
                            dtype=torch.float64)
    if kind == "multiheadattention":
        return SelfAttention(a["embed_dim"], a["num_heads"], causal=a.get("causal", False),
                             bias=a.get("bias", True))
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind]()
    if kind == "gelu":
        if a.get("approximate", "none") != "none":
            raise ArchError("architecture: %s: only gelu(approximate='none')" % path)
        return nn.GELU()
    if kind == "flatten":
        return nn.Flatten()
    if kind == "embedding":
        return _Embedding(a["num_embeddings"], a["embedding_dim"], dtype=torch.float64)
    if kind == "posembed":
        return _PosEmbed(a["num_embeddings"], a["embedding_dim"], dtype=torch.float64)
    if kind == "tokens":
        return _Lambda(lambda x: x.flatten(2).transpose(1, 2))
    if kind == "meanpool":
        return _Lambda(lambda x: x.mean(dim=1))
    if kind in ("dropout", "dropout2d", "identity"):
        return nn.Identity()  # evaluation mode: no-ops
    raise ArchError("architecture: %s: unknown layer '%s'" % (path, it["kind"]))


class _Residual(nn.Module):
    def __init__(self, main, shortcut):
        super().__init__()
        # plain lists: the layers are registered in the ArchNet's name tree, not here
        self.main, self.shortcut = main, shortcut

    def forward(self, x):
        y = x
        for m in self.main:
            y = m(y)
        s = x
        for m in self.shortcut:
            s = m(s)
        return y + s


class ArchNet(nn.Module):
    """The network an architecture string describes, with hesse's tensor names: its
    state_dict keys are the names hesse reads from and writes to safetensors files.

    Layers are float64 and batch norm is in evaluation mode (hesse's semantics)."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        self._program = self._build(parse(arch), None, top=True)

    def _register(self, path, module):
        parent = self
        parts = path.split(".")
        for p in parts[:-1]:
            if p not in parent._modules:
                parent.add_module(p, nn.Module())
            parent = parent._modules[p]
        if parts[-1] in parent._modules:
            raise ArchError("architecture: two layers are named '%s'" % path)
        parent.add_module(parts[-1], module)

    def _build(self, items, block, top=False, shortcut=False):
        program = []
        for i, it in enumerate(items):
            if it["name"] is not None:
                path = it["name"] if block is None else block + "." + it["name"]
            elif block is None:
                path = str(i)
            else:
                path = "%s.%s%d" % (block, "shortcut." if shortcut else "", i)
            if it["kind"] == "residual":
                main = self._build(it["main"], path)
                short = self._build(it["shortcut"], path, shortcut=True) if it["shortcut"] else []
                program.append(_Residual(main, short))
                continue
            m = make_layer(it, path)
            if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
                self._register(path, m)
            program.append(m)
        return program

    def forward(self, x):
        for m in self._program:
            x = m(x)
        return x


def load_hesse_model(path, arch=None):
    """(ArchNet with the file's tensors loaded, metadata) for a hesse model file or an
    exported state_dict whose __metadata__ holds hesse.arch. Presets are built from
    tools/models.py (their names are hesse's)."""
    import hesse_st
    import models

    tensors, meta = hesse_st.read(path)
    arch = arch or meta.get("hesse.arch")
    if not arch:
        raise ArchError("%s: no hesse.arch in the metadata; pass the architecture" % path)
    if models.is_preset(arch):
        net = models.preset(arch)[0].double().eval()
    else:
        net = ArchNet(arch)
    want = net.state_dict()
    missing = [k for k in want if k not in tensors]
    if missing:
        raise ArchError("%s: tensor '%s' is missing%s; the architecture needs it with shape %s; "
                        "the file has %s" %
                        (path, missing[0], " (and %d more)" % (len(missing) - 1)
                         if len(missing) > 1 else "", list(want[missing[0]].shape),
                         hesse_st.names_text(tensors)))
    state = {}
    for k, t in tensors.items():
        if k not in want:
            raise ArchError("%s: tensor '%s' is not in the architecture" % (path, k))
        state[k] = t.to(want[k].dtype)
    net.load_state_dict(state, strict=True)
    return net.eval(), meta


__all__ = ["ArchError", "ArchNet", "parse", "make_layer", "load_hesse_model"]
