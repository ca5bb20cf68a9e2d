#!/usr/bin/python3
"""Export a PyTorch nn.Module for hesse: a safetensors state_dict plus the architecture
string hesse needs, or a clear refusal naming the module hesse cannot express.

As a module:
    import hesse_export
    arch = hesse_export.export(model, "model.safetensors", input_shape=(3, 32, 32))
    # then: hesse spectrum --model model.safetensors --data ... --top 5
    arch, tensors = hesse_export.to_hesse(model, (3, 32, 32))   # without writing

As a command (run with Debian's python3-torch):
    /usr/bin/python3 tools/hesse_export.py resnet18-cifar -o resnet18.safetensors
    /usr/bin/python3 tools/hesse_export.py mynet.py:Net --weights net.pt --input-shape 3,32,32 \\
        -o net.safetensors
  MODEL is a preset (resnet18-cifar, vgg11-bn-cifar, lenet5, mlp(784,512,512,10)), a
  factory FILE.py:NAME or package.module:NAME (called with no arguments), or a .pt/.pth file
  holding a whole pickled module. --weights loads a state_dict (.pt/.pth or .safetensors).
  The arch string goes to stdout; exit 2 with a one-line message when the model cannot be
  expressed.

How: torch.fx traces the module's forward into a graph (custom modules such as residual
blocks are traced through; nn layers stay whole). The graph must be a chain of supported
layers and functions joined by additions: each addition out = a + b becomes
residual(a-branch | b-branch) from the last point where both branches agree (the addition's
immediate dominator). Everything else (concatenation, multiplication, slicing, hand-written
attention, shared layers, grouped or dilated convolutions, train-mode batch norm, ...) is
refused.

Transformers: nn.Embedding on the input ids -> embedding(V,D) (the input shape is then (T,),
T ids per sample, hesse's (1,T,1)); an nn.Embedding applied to torch.arange(T) and added to a
sequence, or tools/models.py's PositionalEmbedding -> posembed(T,D); x.flatten(2).transpose(1,2)
of [N, D, H, W] -> tokens; x.mean(dim=1) of [N, T, D] -> meanpool; nn.Linear and nn.LayerNorm
on [N, T, D] act on the last dimension, as in hesse; nn.MultiheadAttention(batch_first=True)
called as self-attention attn(x, x, x) with no mask or the causal mask (attn_mask equal to
torch.triu(ones(T, T, bool), 1), or its float form with -inf, or is_causal=True) ->
multiheadattention(D,heads[,causal=True][,bias=False]) (the causal mask is recognised by its
value at the traced length, so the exporter needs no flag on the module); an
nn.TransformerEncoderLayer(batch_first=True, activation relu or gelu; dropout is the identity in
eval mode) -> two residual items named after the layer, norm_first=True:
<L>:residual(norm1:layernorm(D),self_attn:multiheadattention(D,H)),
<L>:residual(norm2:layernorm(D),linear1:linear(D,F),gelu,linear2:linear(F,D)); norm_first=False
(post-LN): <L>:residual(self_attn:...),<L>.norm1:layernorm(D),<L>:residual(linear1:...),
<L>.norm2:layernorm(D). Sequence inputs are given as --input-shape T,D (hesse's (1,T,D)); a
model may output logits [N, T, V] (one prediction per position).
The string is then checked: hesse's semantics, rebuilt in PyTorch from the string and the
exported tensors (tools/hesse_arch.py), must reproduce the model's output.

Batch norm is exported in evaluation mode: running statistics are fixed buffers, and the
Hessian is with respect to the weights and the affine parameters only.
"""
import argparse
import copy
import dis
import inspect
import json
import math
import operator
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import torch  # noqa: E402
import torch.fx as fx  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hesse_arch  # noqa: E402
import hesse_st  # noqa: E402


class ExportError(ValueError):
    """The model cannot be expressed in hesse's architecture syntax; the message names the
    module path and what is unsupported."""


import models  # noqa: E402  (PositionalEmbedding)

# Modules translated whole (exact types: a subclass may override forward and is traced).
LEAVES = (nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
          nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm,
          nn.Dropout, nn.Dropout2d, nn.Identity, nn.Embedding, nn.MultiheadAttention,
          nn.TransformerEncoderLayer, models.PositionalEmbedding)
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _where(scope):
    path, cls = scope
    return "module '%s' (%s)" % (path, cls) if path else "the model's forward (%s)" % cls


class _Tracer(fx.Tracer):
    """Traces through containers and custom modules; records on every node the module whose
    forward created it (node.meta['hesse_scope'] = (path, class name))."""

    def __init__(self, root):
        super().__init__()
        self.scope = [("", type(root).__name__)]
        self.sequences = []  # (the nodes of a tuple a traced-through module returned, its scope)

    def is_leaf_module(self, m, qualname):
        if type(m) in LEAVES:
            return True
        if type(m) in CONTAINERS:
            return False
        # other torch.nn layers stay whole so that the refusal names them; user modules
        # (residual blocks, ...) are traced through
        return type(m).__module__.startswith("torch.nn")

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        self.scope.append((path, type(m).__name__))
        try:
            out = super().call_module(m, forward, args, kwargs)
            if isinstance(out, (tuple, list)):  # named if a layer is later given the sequence
                self.sequences.append((tuple(_node_of(v) for v in out), self.scope[-1]))
            return out
        except Exception as e:
            if not hasattr(e, "hesse_scope"):
                e.hesse_scope = self.scope[-1]
            raise
        finally:
            self.scope.pop()

    def proxy(self, node):
        return _Proxy(node, self)

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["hesse_scope"] = self.scope[-1]
        return node


def _node_of(v):
    return v.node if isinstance(v, fx.Proxy) else v


def _iterate(proxy, frame):
    """A traced value iterated: tuple unpacking (out, w = attn(x, x, x)) reads the unpack count
    from the calling instruction by its offset (torch.fx's own lookup fails on Python 3.11
    bytecode, with an IndexError or the wrong instruction); any other iteration is refused,
    naming the module that returned the value when it is not the one iterating over it."""
    for inst in dis.get_instructions(frame.f_code):
        if inst.offset == frame.f_lasti and inst.opname == "UNPACK_SEQUENCE":
            return (proxy[i] for i in range(inst.argval))
    e = fx.proxy.TraceError("a traced value is iterated (not a tuple unpacking)")
    node = proxy.root.node if isinstance(proxy, fx.proxy.Attribute) else proxy.node
    scope = node.meta.get("hesse_scope")
    if scope and scope != proxy.tracer.scope[-1]:
        e.hesse_returned = scope
    raise e


class _Proxy(fx.Proxy):
    """fx.Proxy with hesse's iteration (_iterate), also for its attributes (x.shape)."""

    def __iter__(self):
        return _iterate(self, inspect.currentframe().f_back)

    def __getattr__(self, k):
        return _Attribute(self, k)


class _Attribute(fx.proxy.Attribute):
    def __iter__(self):
        return _iterate(self, inspect.currentframe().f_back)


def _with_proxy(a):
    items = a if isinstance(a, (tuple, list)) else [a]
    return next((v for v in items if isinstance(v, fx.Proxy)), None)


def _factory(orig):
    """torch.arange(T), torch.ones(T, T), ... with a traced size become graph nodes."""
    def f(*args, **kwargs):
        for a in list(args) + list(kwargs.values()):
            p = _with_proxy(a)
            if p is not None:
                return p.tracer.create_proxy("call_function", orig, args, kwargs)
        return orig(*args, **kwargs)
    return f


_FACTORIES = ("arange", "ones", "zeros", "full", "empty", "eye")


def _trace(tracer, model):
    saved = {name: getattr(torch, name) for name in _FACTORIES}
    try:
        for name, orig in saved.items():
            setattr(torch, name, _factory(orig))
        return tracer.trace(model)
    finally:
        for name, orig in saved.items():
            setattr(torch, name, orig)


class _ShapeRecorder(fx.Interpreter):
    """Runs the graph once, recording for every node whether it is a tensor and its shape."""

    current = None  # the node being run (the failing one after an exception)

    def run_node(self, n):
        self.current = n
        v = super().run_node(n)
        n.meta["is_tensor"] = isinstance(v, torch.Tensor)
        n.meta["shape"] = tuple(v.shape) if isinstance(v, torch.Tensor) else None
        n.meta["type_name"] = type(v).__name__
        n.meta["holds_tensor"] = isinstance(v, (tuple, list)) and any(
            isinstance(t, torch.Tensor) for t in v)
        if isinstance(v, torch.Tensor) and v.numel() <= 65536:
            n.meta["value"] = v.detach()  # attention masks are checked by value
        return v




def _sequence_producer(n, gm, tracer):
    """The module whose tuple (or list) result node n was given, or None: an input node that
    ran to a sequence, or a literal tuple argument that a traced-through module returned."""
    for a in n.all_input_nodes:
        kind = a.meta.get("type_name")
        if kind in ("tuple", "list"):
            if a.op == "call_module":
                return (a.target, type(gm.get_submodule(a.target)).__name__), kind
            return a.meta.get("hesse_scope"), kind
    for arg in list(n.args) + list(n.kwargs.values()):
        if isinstance(arg, (tuple, list)):
            for nodes, scope in tracer.sequences:
                if len(nodes) == len(arg) and all(x is y for x, y in zip(nodes, arg)):
                    return scope, type(arg).__name__
    return None, None


def _refuse_run(e, n, gm, tracer, input_shape):
    """The ExportError for the model failing on the example input at node n: the module that
    returned a tuple where a tensor was needed, else the module (or forward) that failed."""
    detail = "%s: %s" % (type(e).__name__, str(e).split("\n")[0])
    where = None
    if n is not None:
        producer, kind = _sequence_producer(n, gm, tracer)
        if producer:
            raise ExportError("%s: returns a %s, not one tensor (%s); hesse's layers map a tensor "
                              "to a tensor" % (_where(producer), kind, detail)) from None
        if n.op == "call_module":
            where = _where((n.target, type(gm.get_submodule(n.target)).__name__))
        else:
            where = _where(n.meta.get("hesse_scope", ("", "?")))
    raise ExportError("the model does not run on an input of shape %s (%s%s)" %
                      ([3] + list(input_shape), "in %s: " % where if where else "",
                       detail)) from None


def _pair(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(v)
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def _fmt_pair(p):
    return str(p[0]) if p[0] == p[1] else "(%d,%d)" % p


def _fmt_float(x):
    return repr(float(x))


def _bind(names, args, kwargs, defaults):
    """Binds positional args and kwargs of a call to `names` (the first is the input)."""
    out = dict(defaults)
    for name, v in zip(names, args):
        out[name] = v
    out.update(kwargs)
    return out


# ----------------------------------------------------------------------------------------
# One node -> hesse items


def _module_items(node, m, in_shape, out_shape):
    """Items (text, has_tensors) for a call to a leaf module, or raises ExportError."""
    where = _where((node.target, type(m).__name__))
    if isinstance(m, nn.Linear):
        if len(in_shape) not in (2, 3, 4):
            raise ExportError("%s: gets a %d-dimensional input %s; hesse's linear takes "
                              "[N, features] or acts on the last dimension of [N, T, D] or "
                              "[N, C, H, W]" % (where, len(in_shape), list(in_shape)))
        bias = "" if m.bias is not None else ",bias=False"
        return [("linear(%d,%d%s)" % (m.in_features, m.out_features, bias), True)]
    if isinstance(m, nn.Conv2d):
        if m.groups != 1:
            raise ExportError("%s: groups=%d is not supported (hesse's conv2d has groups=1)" %
                              (where, m.groups))
        if _pair(m.dilation) != (1, 1):
            raise ExportError("%s: dilation=%s is not supported (hesse's conv2d has "
                              "dilation=1)" % (where, _fmt_pair(_pair(m.dilation))))
        if m.padding_mode != "zeros":
            raise ExportError("%s: padding_mode='%s' is not supported (zeros only)" %
                              (where, m.padding_mode))
        k = _pair(m.kernel_size)
        if isinstance(m.padding, str):
            if m.padding == "valid":
                pad = (0, 0)
            elif all(x % 2 == 1 for x in k):  # 'same' with stride 1: symmetric for odd k
                pad = ((k[0] - 1) // 2, (k[1] - 1) // 2)
            else:
                raise ExportError("%s: padding='same' with an even kernel pads asymmetrically; "
                                  "hesse pads symmetrically" % where)
        else:
            pad = _pair(m.padding)
        text = "conv2d(%d,%d,%s" % (m.in_channels, m.out_channels, _fmt_pair(k))
        if _pair(m.stride) != (1, 1):
            text += ",stride=" + _fmt_pair(_pair(m.stride))
        if pad != (0, 0):
            text += ",padding=" + _fmt_pair(pad)
        if m.bias is None:
            text += ",bias=False"
        return [(text + ")", True)]
    if isinstance(m, nn.MaxPool2d):
        return [(_pool_text(where, "maxpool2d", m.kernel_size, m.stride, m.padding,
                            dilation=m.dilation, ceil_mode=m.ceil_mode,
                            return_indices=m.return_indices), False)]
    if isinstance(m, nn.AvgPool2d):
        return [(_pool_text(where, "avgpool2d", m.kernel_size, m.stride, m.padding,
                            ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad,
                            divisor_override=m.divisor_override), False)]
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return [(_adaptive_text(where, m.output_size, in_shape), False)]
    if isinstance(m, nn.Flatten):
        if _flat_shape(in_shape) != out_shape:
            raise ExportError("%s: flattens dimensions %d..%d; hesse flattens everything but "
                              "the batch (start_dim=1, end_dim=-1)" %
                              (where, m.start_dim, m.end_dim))
        return [("flatten", False)]
    if isinstance(m, nn.ReLU):
        return [("relu", False)]
    if isinstance(m, nn.Tanh):
        return [("tanh", False)]
    if isinstance(m, nn.Sigmoid):
        return [("sigmoid", False)]
    if isinstance(m, nn.GELU):
        if m.approximate != "none":
            raise ExportError("%s: approximate='%s' is not supported (hesse's gelu is the exact "
                              "erf form)" % (where, m.approximate))
        return [("gelu", False)]
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        two = isinstance(m, nn.BatchNorm2d)
        if m.training:
            raise ExportError("%s: is in training mode; hesse's batch norm uses the running "
                              "statistics (call model.eval() before exporting)" % where)
        if not m.track_running_stats or m.running_mean is None:
            raise ExportError("%s: track_running_stats=False normalises with batch statistics "
                              "even in eval mode; hesse needs running statistics" % where)
        if len(in_shape) != (4 if two else 2):
            raise ExportError("%s: gets input %s; hesse's %s takes [N, %s]" %
                              (where, list(in_shape), "batchnorm2d" if two else "batchnorm1d",
                               "C, H, W" if two else "features"))
        opts = "" if m.eps == 1e-5 else ",eps=" + _fmt_float(m.eps)
        if not m.affine:
            opts += ",affine=False"
        return [("%s(%d%s)" % ("batchnorm2d" if two else "batchnorm1d", m.num_features, opts),
                 True)]
    if isinstance(m, nn.LayerNorm):
        ns = tuple(m.normalized_shape)
        if len(ns) == 0 or ns != tuple(in_shape[len(in_shape) - len(ns):]) or len(in_shape) > 4:
            raise ExportError("%s: normalises over %s of an input %s; hesse's layernorm "
                              "normalises trailing dimensions of [N, features] or "
                              "[N, C, H, W]" % (where, list(ns), list(in_shape)))
        text = "layernorm(%s" % ",".join(str(d) for d in ns)
        if m.eps != 1e-5:
            text += ",eps=" + _fmt_float(m.eps)
        if not m.elementwise_affine:
            text += ",elementwise_affine=False"
        return [(text + ")", m.elementwise_affine)]
    if isinstance(m, (nn.Dropout, nn.Dropout2d)):
        if m.training and m.p > 0:
            raise ExportError("%s: is in training mode (random); call model.eval() before "
                              "exporting" % where)
        return []
    if isinstance(m, nn.Identity):
        return []
    if isinstance(m, models.PositionalEmbedding):
        _check_embedding(where, m)
        if len(in_shape) != 3 or in_shape[2] != m.embedding_dim or in_shape[1] > m.num_embeddings:
            raise ExportError("%s: adds positions [%d, %d] to an input %s; hesse's posembed "
                              "takes a sequence [N, T, D] with T <= %d" %
                              (where, m.num_embeddings, m.embedding_dim, list(in_shape),
                               m.num_embeddings))
        return [("posembed(%d,%d)" % (m.num_embeddings, m.embedding_dim), True)]
    if isinstance(m, nn.Embedding):
        _check_embedding(where, m)
        if len(in_shape) != 2:
            raise ExportError("%s: gets input %s; hesse's embedding takes token ids [N, T] "
                              "(the model's input)" % (where, list(in_shape)))
        return [("embedding(%d,%d)" % (m.num_embeddings, m.embedding_dim), True)]
    if isinstance(m, nn.TransformerEncoderLayer):
        return _encoder_items(where, m, in_shape)
    raise ExportError("%s: layer type %s is not supported by hesse (supported: %s)" %
                      (where, type(m).__name__, ", ".join(c.__name__ for c in LEAVES)))


def _check_embedding(where, m):
    if m.padding_idx is not None:
        raise ExportError("%s: padding_idx=%d keeps that row's gradient at zero; hesse "
                          "differentiates every row of embedding (leave padding_idx None)" %
                          (where, m.padding_idx))
    if m.max_norm is not None:
        raise ExportError("%s: max_norm renormalises rows in the forward pass; hesse's "
                          "embedding has no max_norm" % where)
    if m.scale_grad_by_freq:
        raise ExportError("%s: scale_grad_by_freq changes the gradient; hesse's embedding "
                          "is plain nn.Embedding" % where)


def _attention_text(where, m, causal):
    """multiheadattention(D,heads[,causal=True][,bias=False]) of an nn.MultiheadAttention."""
    if not m.batch_first:
        raise ExportError("%s: batch_first=False ([T, N, D] sequences); hesse's "
                          "multiheadattention takes [N, T, D] (build it with batch_first=True)" %
                          where)
    if not m._qkv_same_embed_dim:
        raise ExportError("%s: kdim=%s, vdim=%s differ from embed_dim=%d; hesse's "
                          "multiheadattention is self-attention with one in_proj_weight [3D, D]" %
                          (where, m.kdim, m.vdim, m.embed_dim))
    if m.bias_k is not None:
        raise ExportError("%s: add_bias_kv=True is not supported by hesse's multiheadattention" %
                          where)
    if m.add_zero_attn:
        raise ExportError("%s: add_zero_attn=True is not supported by hesse's "
                          "multiheadattention" % where)
    if m.training and m.dropout > 0:
        raise ExportError("%s: is in training mode with dropout=%g (random); call model.eval() "
                          "before exporting" % (where, m.dropout))
    if (m.in_proj_bias is None) != (m.out_proj.bias is None):
        raise ExportError("%s: has a bias on only one of in_proj and out_proj; hesse's "
                          "multiheadattention has both (bias=True) or neither (bias=False)" % where)
    text = "multiheadattention(%d,%d" % (m.embed_dim, m.num_heads)
    if causal:
        text += ",causal=True"
    if m.in_proj_bias is None:
        text += ",bias=False"
    return text + ")"


def _encoder_items(where, m, in_shape):
    """An nn.TransformerEncoderLayer as residual items named after the layer (the path is
    prepended when the items are rendered; a third element names a sub-module)."""
    attn = m.self_attn
    if not getattr(m.self_attn, "batch_first", False) or not getattr(m, "batch_first", True):
        raise ExportError("%s: batch_first=False ([T, N, D] sequences); hesse takes [N, T, D] "
                          "(build the layer with batch_first=True)" % where)
    if len(in_shape) != 3:
        raise ExportError("%s: gets input %s; hesse's sequences are [N, T, D]" %
                          (where, list(in_shape)))
    act = m.activation
    if act is F.relu or isinstance(act, nn.ReLU):
        act = "relu"
    elif (act is F.gelu or isinstance(act, nn.GELU)) and getattr(act, "approximate",
                                                                  "none") == "none":
        act = "gelu"
    else:
        raise ExportError("%s: activation %s is not supported (hesse: relu or gelu)" %
                          (where, getattr(act, "__name__", type(act).__name__)))
    for norm in (m.norm1, m.norm2):
        if not norm.elementwise_affine or getattr(norm, "bias", True) is None:
            raise ExportError("%s: its layer norms need weight and bias" % where)
    d, f = m.linear1.in_features, m.linear1.out_features
    mha = "self_attn:" + _attention_text(where + ".self_attn", attn, False)
    ln = "layernorm(%d%s)" % (d, "" if m.norm1.eps == 1e-5 else ",eps=" + _fmt_float(m.norm1.eps))
    ln2 = "layernorm(%d%s)" % (d, "" if m.norm2.eps == 1e-5 else ",eps=" + _fmt_float(m.norm2.eps))
    b1 = "" if m.linear1.bias is not None else ",bias=False"
    b2 = "" if m.linear2.bias is not None else ",bias=False"
    ff = "linear1:linear(%d,%d%s),%s,linear2:linear(%d,%d%s)" % (d, f, b1, act, f, d, b2)
    if m.norm_first:
        return [("residual(norm1:%s,%s)" % (ln, mha), True),
                ("residual(norm2:%s,%s)" % (ln2, ff), True)]
    return [("residual(%s)" % mha, True), (ln, True, "norm1"), ("residual(%s)" % ff, True),
            (ln2, True, "norm2")]


def _causal_value(mask, T):
    """True for the causal mask of length T (bool: True above the diagonal; float: -inf above
    it and 0 elsewhere), False for any other mask."""
    if mask is None or tuple(mask.shape) != (T, T):
        return False
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    if mask.dtype == torch.bool:
        return bool(torch.equal(mask, upper))
    return bool((mask[upper] == float("-inf")).all() and (mask[~upper] == 0).all())


def _flat_shape(shape):
    return (shape[0], math.prod(shape[1:]))


def _pool_text(where, kind, kernel, stride, padding, dilation=1, ceil_mode=False,
               return_indices=False, count_include_pad=True, divisor_override=None):
    if _pair(dilation) != (1, 1):
        raise ExportError("%s: dilation=%s is not supported" % (where, dilation))
    if ceil_mode:
        raise ExportError("%s: ceil_mode=True is not supported (hesse floors output sizes)" %
                          where)
    if return_indices:
        raise ExportError("%s: return_indices=True is not supported" % where)
    if divisor_override:
        raise ExportError("%s: divisor_override is not supported" % where)
    k = _pair(kernel)
    s = _pair(stride) if stride not in (None, []) else k
    p = _pair(padding)
    if not count_include_pad and p != (0, 0):
        raise ExportError("%s: count_include_pad=False with padding is not supported (hesse "
                          "divides by the full window)" % where)
    text = "%s(%s" % (kind, _fmt_pair(k))
    if s != k:
        text += ",stride=" + _fmt_pair(s)
    if p != (0, 0):
        text += ",padding=" + _fmt_pair(p)
    return text + ")"


def _adaptive_text(where, output_size, in_shape):
    out = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    out = tuple(in_shape[2 + i] if o is None else int(o) for i, o in enumerate(out))
    return "adaptiveavgpool2d(%s)" % _fmt_pair(out)  # PyTorch's windows, any output size


_ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu_: "relu", torch.relu_: "relu",
              torch.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid",
              F.sigmoid: "sigmoid"}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "tanh_": "tanh",
                "sigmoid": "sigmoid", "sigmoid_": "sigmoid"}
_ADDS = (operator.add, operator.iadd, torch.add)
_ADD_METHODS = ("add", "add_", "__add__", "__iadd__", "__radd__")
_FUNC_NAMES = {torch.cat: "torch.cat (concatenation)", torch.stack: "torch.stack",
               torch.mul: "torch.mul", operator.mul: "multiplication (*)",
               operator.matmul: "matrix multiplication (@)", torch.matmul: "torch.matmul",
               torch.bmm: "torch.bmm", F.softmax: "F.softmax", torch.softmax: "torch.softmax",
               F.conv2d: "F.conv2d on raw tensors", F.linear: "F.linear on raw tensors",
               operator.getitem: "indexing/slicing a tensor", operator.sub: "subtraction",
               operator.truediv: "division", torch.sub: "torch.sub"}


# A final (log-)softmax: hesse's cross-entropy takes logits and includes the softmax.
_SOFTMAX_FUNCS = {F.softmax: "F.softmax", F.log_softmax: "F.log_softmax",
                  torch.softmax: "torch.softmax", torch.log_softmax: "torch.log_softmax"}
_SOFTMAX_METHODS = ("softmax", "log_softmax")
_SOFTMAX_MODULES = (nn.Softmax, nn.LogSoftmax)
_PASS_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d)  # the identity in evaluation mode


def _softmax_name(node, gm):
    """'nn.LogSoftmax', 'F.log_softmax', '.softmax()', ... for a softmax node, else None."""
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        return "nn." + type(m).__name__ if isinstance(m, _SOFTMAX_MODULES) else None
    if node.op == "call_function":
        return _SOFTMAX_FUNCS.get(node.target)
    if node.op == "call_method" and node.target in _SOFTMAX_METHODS:
        return "x.%s()" % node.target
    return None


def _ends_model(node, gm):
    """Node's value is the model's output (through identities and dropout only)."""
    if not node.users:
        return False
    for u in node.users:
        if u.op == "output":
            continue
        if u.op == "call_module" and type(gm.get_submodule(u.target)) in _PASS_MODULES and \
                _ends_model(u, gm):
            continue
        return False
    return True


def _refuse_final_softmax(node, gm):
    name = _softmax_name(node, gm)
    if not name or not _ends_model(node, gm):
        return
    where = (_where((node.target, type(gm.get_submodule(node.target)).__name__))
             if node.op == "call_module" else _where(node.meta.get("hesse_scope", ("", "?"))))
    raise ExportError("%s: the model ends in %s; remove it: hesse's cross-entropy includes the "
                      "softmax (give it the logits, as F.cross_entropy takes them)" % (where, name))


def _func_name(target):
    if target in _FUNC_NAMES:
        return _FUNC_NAMES[target]
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    return "%s.%s" % (mod, name) if mod else name


def _classify(node, gm):
    """Sets node.meta['hk'] (kind) and friends; raises ExportError for what hesse cannot do.

    kinds: input, items (meta['items'], meta['src']), alias (meta['src']), add
    (meta['operands']), meta (a non-tensor value such as x.size(0))."""
    where = _where(node.meta.get("hesse_scope", ("", "?")))
    op = node.op
    if op == "placeholder":
        node.meta["hk"] = "input"
        return
    if op == "output":
        return
    if op == "get_attr":
        # allowed only where a constant may go (an attention mask); refused at any other use
        node.meta.update(hk="const", origin="the tensor '%s'" % node.target)
        return
    tensor_args = [a for a in node.all_input_nodes if a.meta.get("is_tensor")]
    if op == "call_module" and isinstance(gm.get_submodule(node.target), nn.MultiheadAttention):
        _set_attention(node, gm.get_submodule(node.target))
        return
    if op == "call_function" and node.target is operator.getitem and \
            isinstance(node.args[0], fx.Node) and node.args[0].meta.get("hk") == "mha":
        mha = node.args[0]
        if node.args[1] == 0:
            _set_items(node, mha.meta["items"], mha.meta["src"])
            node.meta["path"] = mha.target
        else:  # the attention weights: refused where used
            node.meta.update(hk="weights", origin=_where(mha.meta["hesse_scope"]))
        return
    if op in ("call_function", "call_method") and node.meta.get("is_tensor") and all(
            a.meta.get("hk") == "const" or (not a.meta.get("is_tensor") and
                                            not a.meta.get("holds_tensor") and
                                            a.meta.get("hk") == "meta")
            for a in node.all_input_nodes):
        # built from shapes and constants only (torch.arange(T), a mask): a constant
        node.meta.update(hk="const", origin="%s (%s)" % (where, _func_name(node.target)
                                                         if op == "call_function" else
                                                         "." + node.target + "()"))
        return
    if op == "call_module" and isinstance(gm.get_submodule(node.target), nn.Embedding) and \
            type(gm.get_submodule(node.target)) is nn.Embedding and \
            isinstance(node.args[0], fx.Node) and node.args[0].meta.get("hk") == "const":
        _set_positions(node, gm.get_submodule(node.target))
        return
    if op == "call_module" and not node.meta.get("is_tensor"):
        m = gm.get_submodule(node.target)
        raise ExportError("%s: returns a %s, not one tensor; hesse's layers map a tensor to a "
                          "tensor" % (_where((node.target, type(m).__name__)),
                                      node.meta.get("type_name", "non-tensor value")))
    _refuse_final_softmax(node, gm)
    if not node.meta.get("is_tensor"):
        # shape arithmetic (x.size(0), x.shape, ...) is allowed: it only feeds view/reshape
        node.meta["hk"] = "meta"
        return
    if op == "call_module":
        m = gm.get_submodule(node.target)
        if isinstance(m, nn.TransformerEncoderLayer) and (len(node.args) > 1 or any(
                v is not None and v is not False for v in node.kwargs.values())):
            raise ExportError("%s: called with a mask (src_mask, src_key_padding_mask or "
                              "is_causal); hesse exports the layer as full self-attention only" %
                              _where((node.target, type(m).__name__)))
        if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
            raise ExportError("%s: called with %d arguments; hesse's layers take one tensor" %
                              (_where((node.target, type(m).__name__)),
                               len(node.args) + len(node.kwargs)))
        src = node.args[0]
        items = _module_items(node, m, src.meta["shape"], node.meta["shape"])
        _set_items(node, items, src)
        return
    if op == "call_function":
        t = node.target
        if t in _ADDS:
            _set_add(node, where, node.args, node.kwargs)
            return
        if len(tensor_args) != 1:
            raise ExportError("%s: %s is not supported by hesse (it expresses chains of layers "
                              "and residual additions x + f(x))" % (where, _func_name(t)))
        src = node.args[0] if node.args else None
        if not isinstance(src, fx.Node) or src is not tensor_args[0]:
            raise ExportError("%s: %s is not supported by hesse" % (where, _func_name(t)))
        in_shape, out_shape = src.meta["shape"], node.meta["shape"]
        if t in _ACT_FUNCS:
            _set_items(node, [(_ACT_FUNCS[t], False)], src)
        elif t is F.gelu:
            a = _bind(["input", "approximate"], node.args, node.kwargs, {"approximate": "none"})
            if a["approximate"] != "none":
                raise ExportError("%s: F.gelu(approximate='%s') is not supported" %
                                  (where, a["approximate"]))
            _set_items(node, [("gelu", False)], src)
        elif t is F.avg_pool2d:
            a = _bind(["input", "kernel_size", "stride", "padding", "ceil_mode",
                       "count_include_pad", "divisor_override"], node.args, node.kwargs,
                      {"stride": None, "padding": 0, "ceil_mode": False,
                       "count_include_pad": True, "divisor_override": None})
            _set_items(node, [(_pool_text(where, "avgpool2d", a["kernel_size"], a["stride"],
                                          a["padding"], ceil_mode=a["ceil_mode"],
                                          count_include_pad=a["count_include_pad"],
                                          divisor_override=a["divisor_override"]), False)], src)
        elif t is F.max_pool2d:
            a = _bind(["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                       "return_indices"], node.args, node.kwargs,
                      {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                       "return_indices": False})
            _set_items(node, [(_pool_text(where, "maxpool2d", a["kernel_size"], a["stride"],
                                          a["padding"], dilation=a["dilation"],
                                          ceil_mode=a["ceil_mode"],
                                          return_indices=a["return_indices"]), False)], src)
        elif t is F.adaptive_avg_pool2d:
            a = _bind(["input", "output_size"], node.args, node.kwargs, {})
            _set_items(node, [(_adaptive_text(where, a["output_size"], in_shape), False)], src)
        elif t is torch.flatten and _is_flatten2(node.args[1:], node.kwargs, in_shape):
            node.meta.update(hk="flat2", src=src, origin=where)
        elif t is torch.transpose and src.meta.get("hk") == "flat2":
            if sorted(d % 3 for d in node.args[1:3]) != [1, 2]:
                raise ExportError("%s: torch.transpose%s of x.flatten(2) is not the tokens "
                                  "layout" % (where, tuple(node.args[1:3])))
            _set_items(node, [("tokens", False)], src.meta["src"])
        elif t is torch.flatten:
            _set_reshape(node, where, "torch.flatten", in_shape, out_shape, src)
        elif t in (F.dropout, F.dropout2d):
            a = _bind(["input", "p", "training", "inplace"], node.args, node.kwargs,
                      {"p": 0.5, "training": True})
            if a["training"] and a["p"] > 0:
                raise ExportError("%s: F.dropout with training=True (random); pass "
                                  "training=self.training and call model.eval()" % where)
            _set_alias(node, src)
        elif t is torch.mean:
            _set_mean(node, where, node.args[1:], node.kwargs, in_shape, src)
        else:
            raise ExportError("%s: %s is not supported by hesse (it expresses chains of layers "
                              "and residual additions x + f(x))" % (where, _func_name(t)))
        return
    if op == "call_method":
        name = node.target
        self_node = node.args[0]
        if name in _ADD_METHODS:
            _set_add(node, where, node.args, node.kwargs)
            return
        if not isinstance(self_node, fx.Node) or tensor_args != [self_node]:
            raise ExportError("%s: tensor method .%s() is not supported by hesse" %
                              (where, name))
        in_shape, out_shape = self_node.meta["shape"], node.meta["shape"]
        if name in _ACT_METHODS:
            _set_items(node, [(_ACT_METHODS[name], False)], self_node)
        elif name == "flatten" and _is_flatten2(node.args[1:], node.kwargs, in_shape):
            node.meta.update(hk="flat2", src=self_node, origin=where)
        elif name in ("transpose", "permute") and self_node.meta.get("hk") == "flat2":
            dims = [d % 3 for d in (node.args[1:] if name == "transpose" or not isinstance(
                node.args[1], (tuple, list)) else node.args[1])]
            if sorted(dims[-2:]) != [1, 2] or (name == "permute" and dims != [0, 2, 1]):
                raise ExportError("%s: .%s%s of x.flatten(2) is not the tokens layout "
                                  "x.flatten(2).transpose(1, 2)" % (where, name, tuple(dims)))
            _set_items(node, [("tokens", False)], self_node.meta["src"])
        elif name in ("view", "reshape", "flatten"):
            _set_reshape(node, where, ".%s()" % name, in_shape, out_shape, self_node)
        elif name in ("contiguous", "clone"):
            _set_alias(node, self_node)
        elif name == "mean":
            _set_mean(node, where, node.args[1:], node.kwargs, in_shape, self_node)
        else:
            raise ExportError("%s: tensor method .%s() is not supported by hesse (it expresses "
                              "chains of layers and residual additions x + f(x))" % (where, name))
        return
    raise ExportError("%s: graph operation %s %s is not supported" % (where, op, node.target))


def _chain_src(where, src):
    """Refuses a value that cannot enter hesse's chain of layers (a constant tensor, attention
    weights, a half-made tokens reshape)."""
    k = _resolve(src).meta.get("hk")
    if k in ("input", "items", "add"):
        return
    origin = _resolve(src).meta.get("origin", src.name)
    if k == "const":
        raise ExportError("%s: uses %s directly, outside a supported layer (hesse computes with "
                          "its layers' own parameters only; constants may only be a causal "
                          "attention mask or the positions of an embedding)" % (where, origin))
    if k == "weights":
        raise ExportError("%s: uses the attention weights of %s; hesse's multiheadattention "
                          "gives only its output (need_weights=False)" % (where, origin))
    if k == "flat2":
        raise ExportError("%s: x.flatten(2) of %s must be followed by .transpose(1, 2) (hesse's "
                          "tokens layer)" % (where, origin))
    raise ExportError("%s: uses a value hesse cannot express (%s)" % (where, k))


def _set_items(node, items, src):
    _chain_src(_where(node.meta.get("hesse_scope", ("", "?"))), src)
    node.meta.update(hk="items", items=items, src=src)


def _is_flatten2(rest, kwargs, in_shape):
    """x.flatten(2) / torch.flatten(x, 2) of [N, D, H, W] (the first half of tokens)."""
    a = _bind(["start_dim", "end_dim"], rest, kwargs, {"start_dim": 0, "end_dim": -1})
    return len(in_shape) == 4 and a["start_dim"] % 4 == 2 and a["end_dim"] % 4 == 3


def _set_attention(node, m):
    """nn.MultiheadAttention called as self-attention, with no mask or the causal one."""
    where = _where((node.target, type(m).__name__))
    _attention_text(where, m, False)  # the module's own options first
    a = _bind(["query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
               "average_attn_weights", "is_causal"], node.args, node.kwargs,
              {"key_padding_mask": None, "attn_mask": None, "is_causal": False})
    q = a["query"]
    if not (isinstance(q, fx.Node) and a["key"] is q and a["value"] is q):
        raise ExportError("%s: query, key and value are not one tensor; hesse's "
                          "multiheadattention is self-attention attn(x, x, x)" % where)
    if a["key_padding_mask"] is not None:
        raise ExportError("%s: key_padding_mask is not supported (hesse's multiheadattention "
                          "attends to every position, or causally)" % where)
    mask = a["attn_mask"]
    T = q.meta["shape"][1] if q.meta.get("shape") and len(q.meta["shape"]) == 3 else None
    if mask is not None:
        if not isinstance(mask, fx.Node) or mask.meta.get("hk") != "const" or \
                not _causal_value(mask.meta.get("value"), T):
            raise ExportError("%s: attn_mask is not the causal mask (hesse's multiheadattention "
                              "has no mask or causal=True: torch.triu(torch.ones(T, T, "
                              "dtype=torch.bool), 1))" % where)
    causal = mask is not None or a["is_causal"] is True
    if q.meta.get("shape") is None or len(q.meta["shape"]) != 3:
        raise ExportError("%s: gets input %s; hesse's sequences are [N, T, D]" %
                          (where, list(q.meta.get("shape") or [])))
    _chain_src(where, q)
    node.meta.update(hk="mha", items=[(_attention_text(where, m, causal), True)], src=q)


def _set_positions(node, m):
    """nn.Embedding(T, D) of torch.arange(T'): learned positions, added to a sequence later."""
    where = _where((node.target, type(m).__name__))
    _check_embedding(where, m)
    ids = node.args[0].meta.get("value")
    if ids is None or ids.dim() != 1 or not torch.equal(ids, torch.arange(ids.numel())):
        raise ExportError("%s: looks up constant indices that are not torch.arange(T); hesse's "
                          "posembed adds rows 0..T-1" % where)
    node.meta.update(hk="positions", path=node.target,
                     text="posembed(%d,%d)" % (m.num_embeddings, m.embedding_dim),
                     origin=where)


def _set_alias(node, src):
    node.meta.update(hk="alias", src=src)


def _set_reshape(node, where, what, in_shape, out_shape, src):
    if out_shape == in_shape:
        _set_alias(node, src)
    elif len(in_shape) >= 2 and out_shape == _flat_shape(in_shape):
        _set_items(node, [("flatten", False)], src)
    else:
        raise ExportError("%s: %s reshapes %s to %s; hesse only flattens each sample to "
                          "[N, features]" % (where, what, list(in_shape), list(out_shape)))


def _set_mean(node, where, rest, kwargs, in_shape, src):
    a = _bind(["dim", "keepdim"], rest, kwargs, {"dim": None, "keepdim": False})
    dims = a["dim"]
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    dims = sorted(d % len(in_shape) for d in dims)
    if len(in_shape) == 3 and dims == [1] and not a["keepdim"]:
        _set_items(node, [("meanpool", False)], src)  # [N, T, D] -> [N, D]
        return
    if len(in_shape) != 4 or dims != [2, 3]:
        raise ExportError("%s: mean over dimensions %s of %s is not supported (only the global "
                          "average over H, W of [N, C, H, W], or over the tokens of [N, T, D], "
                          "x.mean(dim=1))" % (where, a["dim"], list(in_shape)))
    items = [("adaptiveavgpool2d(1)", False)]
    if not a["keepdim"]:
        items.append(("flatten", False))
    _set_items(node, items, src)


def _set_add(node, where, args, kwargs):
    operands = list(args[:2]) + [kwargs[k] for k in ("other",) if k in kwargs]
    extra = {k: v for k, v in kwargs.items() if k != "other"}
    if len(args) > 2 or (extra and extra.get("alpha", 1) != 1) or len(operands) != 2:
        raise ExportError("%s: an addition with alpha or extra arguments is not supported" % where)
    if not all(isinstance(o, fx.Node) and o.meta.get("is_tensor") for o in operands):
        raise ExportError("%s: adds a constant to a tensor; hesse's additions join two branches "
                          "(x + f(x))" % where)
    a, b = operands
    if b.meta.get("hk") == "positions":
        a, b = b, a
    if a.meta.get("hk") == "positions":  # x + pos(arange(T)): learned positions
        T, D = a.meta["shape"]
        if len(b.meta["shape"]) != 3 or tuple(b.meta["shape"][1:]) != (T, D):
            raise ExportError("%s: adds positions [%d, %d] to %s; hesse's posembed adds them to "
                              "a sequence [N, T, D]" % (where, T, D, list(b.meta["shape"])))
        _set_items(node, [(a.meta["text"], True)], b)
        node.meta["path"] = a.meta["path"]
        return
    _chain_src(where, a)
    _chain_src(where, b)
    if a.meta["shape"] != b.meta["shape"] or node.meta["shape"] != a.meta["shape"]:
        raise ExportError("%s: adds tensors of shapes %s and %s (broadcasting); hesse's residual "
                          "needs both branches the same shape" %
                          (where, list(a.meta["shape"]), list(b.meta["shape"])))
    node.meta.update(hk="add", operands=(a, b))


# ----------------------------------------------------------------------------------------
# Graph -> chain with residual blocks


def _resolve(n):
    while n.meta.get("hk") == "alias":
        n = n.meta["src"]
    return n


def _preds(n):
    k = n.meta["hk"]
    if k == "items":
        return [_resolve(n.meta["src"])]
    if k == "add":
        return [_resolve(o) for o in n.meta["operands"]]
    return []


def _describe_node(n):
    scope = n.meta.get("hesse_scope", ("", "?"))
    if n.op == "call_module":
        return "module '%s'" % n.target
    return "%s (%s)" % (_where(scope), n.name)


def _structure(graph, out):
    """The output's computation as a nested list: ('items', node) and
    ('residual', add_node, [a-branch], [b-branch])."""
    order = [n for n in graph.nodes if n.meta.get("hk") in ("input", "items", "add")]
    index = {n: i for i, n in enumerate(order)}
    dom = {}
    for n in order:
        ps = _preds(n)
        if not ps:
            dom[n] = {n}
        else:
            common = set.intersection(*(dom[p] for p in ps))
            dom[n] = common | {n}
    claimed = set()

    def claim(n):
        if n in claimed:
            raise ExportError("%s: its output feeds later layers in a way hesse cannot express "
                              "(branches may only rejoin by adding to the tensor they forked "
                              "from)" % _describe_node(n))
        claimed.add(n)

    def build(end, stop):
        seq, cur = [], end
        while cur is not stop:
            k = cur.meta["hk"]
            if k == "input":
                raise ExportError("%s: a branch reaches the input without passing its fork "
                                  "point (internal error)" % _describe_node(end))
            claim(cur)
            if k == "items":
                seq.append(("items", cur))
                cur = _preds(cur)[0]
            else:
                fork = max(dom[cur] - {cur}, key=index.get)
                a, b = _preds(cur)
                seq.append(("residual", cur, build(a, fork), build(b, fork)))
                cur = fork
        seq.reverse()
        return seq

    start = [n for n in order if n.meta["hk"] == "input"]
    seq = build(out, start[0])
    # every layer the output depends on must appear exactly once
    todo, seen = [out], set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.meta["hk"] != "input" and n not in claimed:
            raise ExportError("%s: its output is used in a way hesse cannot express" %
                              _describe_node(n))
        todo.extend(_preds(n))
    return seq


def _params_in(seq):
    out = []
    for e in seq:
        if e[0] == "items":
            n = e[1]
            if any(it[1] for it in n.meta["items"]):
                out.append(n.meta.get("path", n.target))
        else:
            out += _params_in(e[2]) + _params_in(e[3])
    return out


def _common_prefix(paths):
    parts = [p.split(".") for p in paths]
    prefix = []
    for group in zip(*parts):
        if all(g == group[0] for g in group):
            prefix.append(group[0])
        else:
            break
    # a strict prefix of every path (the block is a container of its layers)
    while prefix and any(len(p) == len(prefix) for p in parts):
        prefix.pop()
    return ".".join(prefix)


def _relative(path, block, what):
    if block is None:
        return path
    if not path.startswith(block + "."):
        raise ExportError("%s: lies inside the residual block '%s' but is not one of its "
                          "submodules; hesse names a block's tensors '<block>.<layer>'" %
                          (what, block))
    return path[len(block) + 1:]


def _render(seq, block, shortcut=False):
    """Item texts of one level; names omitted where hesse's positional default gives the
    same tensor names."""
    out = []
    for e in seq:
        if e[0] == "items":
            n = e[1]
            target = n.meta.get("path", n.target)
            for it in n.meta["items"]:
                text, has = it[0], it[1]
                if not has:
                    out.append(text)
                    continue
                if block is not None and text.startswith("residual("):
                    raise ExportError("module '%s': a transformer layer inside the residual "
                                      "block '%s'; hesse's residual blocks do not nest" %
                                      (target, block))
                rel = _relative(target, block, "module '%s'" % target)
                if len(it) > 2:
                    rel += "." + it[2]  # a sub-module of the layer (post-LN norms)
                pos = len(out)
                default = str(pos) if block is None else (
                    "shortcut.%d" % pos if shortcut else str(pos))
                # top level: the legacy positional names; inside blocks: always explicit
                out.append(text if (block is None and rel == default and len(it) == 2 and
                                    not text.startswith("residual("))
                           else "%s:%s" % (rel, text))
            continue
        _, add, a, b = e
        scope = add.meta["hesse_scope"]
        if block is not None:
            raise ExportError("%s: a residual addition inside the residual block '%s'; hesse's "
                              "residual blocks do not nest" % (_where(scope), block))
        params = _params_in(a) + _params_in(b)
        inside = block is None or (scope[0] + ".").startswith(block + ".") and scope[0] != block
        if scope[0] and inside and all(p.startswith(scope[0] + ".") for p in params):
            name = scope[0]
        elif params:
            name = _common_prefix(params)
            if not name or (block is not None and not name.startswith(block + ".")):
                raise ExportError("%s: the layers of this residual addition (%s) share no "
                                  "enclosing module below %s; hesse names a block's tensors "
                                  "'<block>.<layer>', so put the block in its own nn.Module" %
                                  (_where(scope), ", ".join(params[:4]),
                                   "the model" if block is None else "'%s'" % block))
        else:
            name = None
        # the longer branch is the main path; an empty one is the identity shortcut
        if len(b) > len(a):
            a, b = b, a
        main = _render(a, name if name is not None else block) or ["identity"]
        short = _render(b, name if name is not None else block, shortcut=True)
        text = "residual(%s%s)" % (",".join(main), "|" + ",".join(short) if short else "")
        if name is not None:
            text = "%s:%s" % (_relative(name, block, _where(scope)), text)
        out.append(text)
    return out


# ----------------------------------------------------------------------------------------
# Public API


def hesse_input_shape(input_shape, ids=False):
    """hesse's (c, h, w) for a PyTorch per-sample shape: (D,) -> (D, 1, 1); T token ids (ids,
    the model's input feeds an nn.Embedding) -> (1, T, 1); a sequence (T, D) -> (1, T, D)."""
    s = tuple(int(d) for d in input_shape)
    if len(s) == 1:
        return (1, s[0], 1) if ids else (s[0], 1, 1)
    if len(s) == 2 and not ids:
        return (1, s[0], s[1])
    if len(s) == 3 and not ids:
        return s
    raise ExportError("input shape %s: expected (C, H, W), (features,), a sequence (T, D) or "
                      "(T,) token ids" % (list(s),))


def _token_input(graph, gm):
    """The vocabulary size when the model's input feeds an nn.Embedding (token ids), else 0."""
    for n in graph.nodes:
        if n.op == "placeholder":
            for u in n.users:
                if u.op == "call_module" and type(gm.get_submodule(u.target)) is nn.Embedding:
                    return gm.get_submodule(u.target).num_embeddings
            return 0
    return 0


def _example_input(vocab, input_shape, fdtype, generator=None, batch=3):
    if vocab:
        return torch.randint(0, vocab, (batch, *input_shape), generator=generator)
    return torch.randn(batch, *input_shape, dtype=fdtype, generator=generator)


def to_hesse(model, input_shape, check=True, allow_unused=False, dtype="keep"):
    """(arch string, {name: tensor}) for an nn.Module in eval mode, or raises ExportError.

    input_shape: one sample's shape without the batch dimension, (C, H, W) or (features,).
    dtype: 'keep' (F16/BF16 widened to F32), 'f64' or 'f32'. check: rebuild the string's
    network in PyTorch and compare its output with the model's."""
    if not isinstance(model, nn.Module):
        raise ExportError("expected an nn.Module, got %s" % type(model).__name__)
    tracer = _Tracer(model)
    try:
        graph = _trace(tracer, model)
    except ExportError:
        raise
    except Exception as e:  # data-dependent control flow and the like
        scope = getattr(e, "hesse_scope", ("", type(model).__name__))
        if hasattr(e, "hesse_returned"):
            raise ExportError("%s: returns a tuple (or another sequence) that the model iterates "
                              "over (torch.fx cannot trace that); hesse's layers map a tensor to "
                              "a tensor" % _where(e.hesse_returned)) from None
        hint = ""
        if isinstance(e, fx.proxy.TraceError):
            hint = "; hesse needs a forward without data-dependent control flow"
        raise ExportError("%s: torch.fx cannot trace it (%s: %s)%s" %
                          (_where(scope), type(e).__name__, str(e).split("\n")[0] or "no message",
                           hint)) from None
    gm = fx.GraphModule(tracer.root, graph)
    seen_modules = {}
    for n in graph.nodes:
        if n.op == "call_module":
            m = gm.get_submodule(n.target)
            stateless = not any(True for _ in m.parameters()) and not any(True for _ in m.buffers())
            if stateless:  # e.g. torchvision's blocks call one self.relu twice
                continue
            if n.target in seen_modules:
                raise ExportError("module '%s' (%s): is called more than once; hesse gives every "
                                  "layer its own parameters (shared layers are not supported)" %
                                  (n.target, type(gm.get_submodule(n.target)).__name__))
            seen_modules[n.target] = n
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if not placeholders:
        raise ExportError("the model's forward takes no input")
    fdtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    vocab = _token_input(graph, gm)
    hesse_input_shape(input_shape, ids=vocab > 0)
    x = _example_input(vocab, input_shape, fdtype)
    recorder = _ShapeRecorder(gm)
    try:
        # with gradients enabled: PyTorch's eval-mode fast paths of nn.MultiheadAttention and
        # nn.TransformerEncoderLayer (which are not its reference arithmetic) stay off
        with torch.enable_grad():
            recorder.run(x)
    except Exception as e:
        _refuse_run(e, recorder.current, gm, tracer, input_shape)
    for n in graph.nodes:
        _classify(n, gm)
    for p in placeholders[1:]:
        if any(u.meta.get("hk") in ("items", "add", "alias") for u in p.users):
            raise ExportError("the model's forward uses a second input '%s'; hesse feeds one "
                              "tensor" % p.name)
    outs = [n for n in graph.nodes if n.op == "output"]
    res = outs[0].args[0]
    if not isinstance(res, fx.Node) or not res.meta.get("is_tensor"):
        raise ExportError("the model's forward returns %s, not one tensor" %
                          type(res).__name__)
    res = _resolve(res)
    if res.meta["hk"] == "input":
        raise ExportError("the model's forward returns its input")
    if len(res.meta["shape"]) not in (2, 3):
        raise ExportError("the model's output has shape %s; hesse needs logits [N, classes] "
                          "or [N, T, classes] (a prediction per position)" %
                          ([None] + list(res.meta["shape"][1:]),))
    seq = _structure(graph, res)
    arch = ",".join(_render(seq, None))

    tensors = {}
    for path in _params_in(seq):
        m = gm.get_submodule(path)
        for k, t in m.state_dict().items():
            tensors["%s.%s" % (path, k)] = _convert(t, dtype)
    _check_unused(model, seen_modules, _params_in(seq), allow_unused)
    if check:
        _check_equal(model, arch, tensors, input_shape, vocab)
    return arch, tensors


def _convert(t, dtype):
    t = t.detach().cpu()
    if not t.is_floating_point():
        return t.to(torch.int64)
    if dtype == "f64":
        return t.to(torch.float64)
    if dtype == "f32" or t.dtype not in (torch.float64, torch.float32):
        return t.to(torch.float32)
    return t


def _check_unused(model, seen_modules, used, allow_unused):
    used_ids = set()
    for path in used:
        for t in list(model.get_submodule(path).parameters()) + list(
                model.get_submodule(path).buffers()):
            used_ids.add(id(t))
    unused = [name for name, p in model.named_parameters() if id(p) not in used_ids]
    if unused and not allow_unused:
        raise ExportError("parameters not used by the forward pass: %s%s; hesse would not know "
                          "them (allow_unused=True / --allow-unused leaves them out)" %
                          (", ".join(unused[:6]), ", ..." if len(unused) > 6 else ""))


def _check_equal(model, arch, tensors, input_shape, vocab=0):
    """hesse's semantics of `arch` (rebuilt in PyTorch) must give the model's output."""
    try:
        net = hesse_arch.ArchNet(arch)
        want = net.state_dict()
        net.load_state_dict({k: t.to(want[k].dtype) for k, t in tensors.items() if k in want},
                            strict=True)
    except Exception as e:
        raise ExportError("internal error: the string does not describe the exported tensors "
                          "(%s): %s" % (str(e).split("\n")[0], arch)) from None
    ref = copy.deepcopy(model).double().eval()
    g = torch.Generator().manual_seed(1234)
    x = _example_input(vocab, input_shape, torch.float64, generator=g, batch=5)
    with torch.enable_grad():  # the reference arithmetic, not the eval-mode fast paths
        a, b = ref(x).detach(), net.eval()(x).detach()
    scale = max(1.0, float(a.abs().max()))
    err = float((a - b).abs().max()) if a.shape == b.shape else math.inf
    if not err <= 1e-9 * scale:
        raise ExportError("internal error: the exported string computes something else than "
                          "the model (max difference %.3g): %s" % (err, arch))


def metadata(arch, input_shape, loss="cross_entropy", mean=None, std=None, scale=None,
             source=None):
    """The __metadata__ hesse reads from a model file."""
    ids = hesse_arch.parse(arch)[0]["kind"] == "embedding"
    c, h, w = hesse_input_shape(input_shape, ids=ids)
    meta = {"hesse.arch": arch, "hesse.input_shape": "%d,%d,%d" % (c, h, w), "hesse.loss": loss}
    if mean is not None or std is not None or scale is not None:
        pre = {}
        if scale is not None:
            pre["scale"] = float(scale)
        if mean is not None and std is not None:
            if len(mean) != len(std):
                raise ExportError("mean and std have %d and %d channels" % (len(mean), len(std)))
            pre["mean"], pre["std"] = [float(v) for v in mean], [float(v) for v in std]
        meta["hesse.preprocess"] = json.dumps(pre)
    if source:
        meta["hesse.exported_from"] = source
    return meta


def export(model, path, input_shape, loss="cross_entropy", mean=None, std=None, scale=None,
           check=True, allow_unused=False, dtype="keep"):
    """Writes the model's tensors and architecture to `path` (safetensors); returns the
    architecture string. See to_hesse for the arguments; loss: 'cross_entropy' or 'mse';
    mean/std/scale: the preprocessing hesse applies to the data when the command line gives
    none (x = (raw * scale - mean) / std per channel)."""
    arch, tensors = to_hesse(model, input_shape, check=check, allow_unused=allow_unused,
                             dtype=dtype)
    meta = metadata(arch, input_shape, loss, mean, std, scale,
                    source="torch %s %s" % (torch.__version__, type(model).__name__))
    hesse_st.write(path, tensors, meta)
    return arch


# ----------------------------------------------------------------------------------------
# Command line


def _load_model(spec):
    import importlib
    import importlib.util

    import models

    if models.is_preset(spec):
        return models.preset(spec)
    if spec.endswith((".pt", ".pth")) and os.path.isfile(spec):
        # the pickled classes must be importable: from the file's folder or the current one
        for d in (os.getcwd(), os.path.dirname(os.path.abspath(spec))):
            if d not in sys.path:
                sys.path.insert(0, d)
        try:
            obj = torch.load(spec, map_location="cpu")
        except (ImportError, AttributeError) as e:
            raise ExportError("%s: cannot unpickle the module (%s); its class must be importable "
                              "(set PYTHONPATH), or give FILE.py:NAME and --weights" %
                              (spec, e)) from None
        if not isinstance(obj, nn.Module):
            raise ExportError("%s holds a %s, not a pickled nn.Module; give the module's factory "
                              "(FILE.py:NAME) and this file with --weights" %
                              (spec, type(obj).__name__))
        return obj, None
    if ":" not in spec:
        raise ExportError("MODEL '%s': expected a preset, FILE.py:NAME, package.module:NAME or "
                          "a .pt file" % spec)
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise ExportError("%s: no such file" % where)
        sys.path.insert(0, os.path.dirname(os.path.abspath(where)))
        s = importlib.util.spec_from_file_location("_hesse_user_model", where)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(where)
    factory = getattr(mod, name, None)
    if factory is None:
        raise ExportError("%s has no '%s'" % (where, name))
    m = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(m, nn.Module):
        raise ExportError("%s:%s() returned %s, not an nn.Module" % (where, name, type(m).__name__))
    return m, None


def _check_names(path, state, want):
    """A tensor the model needs and the file lacks, named with the names the file has."""
    missing = [k for k in want if k not in state]
    if missing:
        raise ExportError("%s: tensor '%s' is missing%s; the file has %s" %
                          (path, missing[0], " (and %d more)" % (len(missing) - 1)
                           if len(missing) > 1 else "", hesse_st.names_text(state)))


def _floats(s, what):
    try:
        return [float(v) for v in s.split(",")]
    except ValueError:
        raise ExportError("%s: expected comma-separated numbers, got '%s'" % (what, s)) from None


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="hesse_export.py",
        description="Export a PyTorch model for hesse: safetensors + architecture string.")
    ap.add_argument("model", help="preset, FILE.py:NAME, package.module:NAME or a pickled .pt")
    ap.add_argument("-o", "--output", help="write the safetensors file here")
    ap.add_argument("--weights", help="state_dict to load first (.pt/.pth or .safetensors)")
    ap.add_argument("--input-shape", help="one sample's shape C,H,W or D (default: the preset's)")
    ap.add_argument("--loss", default="cross_entropy", choices=["cross_entropy", "mse"])
    ap.add_argument("--dtype", default="keep", choices=["keep", "f64", "f32"])
    ap.add_argument("--mean", help="per-channel mean stored as hesse.preprocess")
    ap.add_argument("--std", help="per-channel std stored as hesse.preprocess")
    ap.add_argument("--allow-unused", action="store_true",
                    help="leave out parameters the forward pass never uses")
    ap.add_argument("--no-check", action="store_true",
                    help="skip rebuilding the string's network and comparing outputs")
    a = ap.parse_args(argv)
    try:
        model, default_shape = _load_model(a.model)
        if a.weights:
            if a.weights.endswith(".safetensors"):
                state, _ = hesse_st.read(a.weights)
            else:
                state = torch.load(a.weights, map_location="cpu")
                state = state.get("state_dict", state) if isinstance(state, dict) else state
            _check_names(a.weights, state, model.state_dict())
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as e:
                raise ExportError("%s: %s" % (a.weights, str(e).replace("\n", " ").strip()))
        model.eval()
        if a.input_shape:
            try:
                shape = tuple(int(v) for v in a.input_shape.split(","))
            except ValueError:
                raise ExportError("--input-shape: expected C,H,W or D, got '%s'" %
                                  a.input_shape) from None
        elif default_shape:
            shape = default_shape
        else:
            raise ExportError("--input-shape is needed for this model (C,H,W or D)")
        if (a.mean is None) != (a.std is None):
            raise ExportError("--mean and --std go together")
        mean = _floats(a.mean, "--mean") if a.mean else None
        std = _floats(a.std, "--std") if a.std else None
        if a.output:
            arch = export(model, a.output, shape, loss=a.loss, mean=mean, std=std,
                          check=not a.no_check, allow_unused=a.allow_unused, dtype=a.dtype)
        else:
            arch, _ = to_hesse(model, shape, check=not a.no_check,
                               allow_unused=a.allow_unused, dtype=a.dtype)
    except (ExportError, hesse_st.SafetensorsError, OSError) as e:
        print("hesse_export: %s" % e, file=sys.stderr)
        return 2
    print(arch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
