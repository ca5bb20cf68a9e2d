"""PyTorch definitions of hesse's architecture presets, written from the published layouts.

Each class's state_dict names and shapes are the ones hesse's preset of the same name uses,
so a model trained in PyTorch from these definitions (or from the usual CIFAR repositories
that follow the same layouts) loads into hesse by preset name:

  resnet18-cifar   ResNet18()      the CIFAR variant of ResNet-18 popularised by kuangliu's
                                   pytorch-cifar: 3x3 stem conv (no max-pool), four stages of
                                   two BasicBlocks (64, 128, 256, 512 channels; stride 2 from
                                   the second stage on), 1x1-conv + BN projection shortcuts
                                   named shortcut.0 / shortcut.1, 4x4 average pool, linear
                                   512 -> 10. 11,173,962 parameters.
  vgg11-bn-cifar   VGG11BN()       VGG-11 with batch norm for 32x32 inputs: features.<i> is
                                   conv3x3(bias) / BatchNorm2d / ReLU per configured width,
                                   MaxPool2d(2) at each 'M', then AvgPool2d(1, 1); classifier
                                   Linear(512, 10). 9,231,114 parameters (+ BN buffers).
  lenet5           LeNet5()        nn.Sequential: conv(1,6,5,pad 2), relu, maxpool 2,
                                   conv(6,16,5), relu, maxpool 2, flatten, linear 400-120-84-10
  mlp(784,512,512,10)  MLP(784, 512, 512, 10)   nn.Sequential of linear / relu pairs (no
                                   activation after the last linear; tensors 0.*, 2.*, 4.*),
                                   applied to the flattened input

  vit-tiny         ViTTiny()       a pre-LN vision transformer for 28x28 Fashion-MNIST: patch
                                   conv(1, 64, 7, stride 7) -> 16 tokens (x.flatten(2)
                                   .transpose(1, 2)), learned positions pos.weight [16, 64],
                                   2 Blocks (4 heads, MLP 128), LayerNorm, mean over tokens,
                                   linear 64 -> 10.
  gpt-tiny         GPTTiny()       a pre-LN causal byte-level language model: tok.weight
                                   [256, 64], learned positions pos.weight [64, 64] (context
                                   64), 2 Blocks (4 heads, causal mask, MLP 256), LayerNorm,
                                   linear 64 -> 256 at every position: logits [N, T, 256].

The transformer presets take overrides as hesse's do: vit-tiny(num_classes=N, depth=L,
width=D), gpt-tiny(num_classes=V, context=T, depth=L, width=D) (V is the vocabulary: embedding
rows and output classes; heads stay 4, so D must be a multiple of 4; MLP 2D for vit-tiny, 4D
for gpt-tiny). Their blocks are Block modules: blocks.<i>.ln_1, .attn (nn.MultiheadAttention,
batch_first=True, its in_proj_weight [3D, D], in_proj_bias, out_proj.weight, out_proj.bias),
.ln_2, .mlp.0 (Linear D -> M), .mlp.1 (GELU), .mlp.2 (Linear M -> D), computing
x + attn(ln_1(x)) then x + mlp(ln_2(x)); hesse's string gives each block as two residual
items with the same prefix, blocks.<i>:residual(ln_1:layernorm(D),attn:multiheadattention(D,4))
and blocks.<i>:residual(ln_2:layernorm(D),mlp.0:linear(D,M),gelu,mlp.2:linear(M,D)).

Input shapes: PRESET_INPUT gives each preset's (C, H, W); gpt-tiny's input is [N, T] token
ids (hesse: (1, T, 1) ids stored as numbers).
"""
import re

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; identity shortcut, or a strided 1x1 convolution
    with batch norm when the block changes the resolution or the width."""

    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """CIFAR ResNet: 3x3 stem, four stages of blocks, global 4x4 average pool, linear."""

    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._stage(block, 64, num_blocks[0], 1)
        self.layer2 = self._stage(block, 128, num_blocks[1], 2)
        self.layer3 = self._stage(block, 256, num_blocks[2], 2)
        self.layer4 = self._stage(block, 512, num_blocks[3], 2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _stage(self, block, planes, count, stride):
        blocks = []
        for s in [stride] + [1] * (count - 1):
            blocks.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


def ResNet18(num_classes=10):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


VGG_CONFIGS = {
    "VGG11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "VGG13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "VGG16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG with batch norm for 32x32 inputs: five 2x2 max-pools take 32x32 to 1x1."""

    def __init__(self, name="VGG11", num_classes=10):
        super().__init__()
        layers, channels = [], 3
        for width in VGG_CONFIGS[name]:
            if width == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
        layers.append(nn.AvgPool2d(kernel_size=1, stride=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        out = self.features(x)
        out = out.view(out.size(0), -1)
        return self.classifier(out)


def VGG11BN(num_classes=10):
    return VGG("VGG11", num_classes)


def LeNet5(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))


class MLP(nn.Sequential):
    """MLP(784, 512, 512, 10): nn.Sequential(Linear, ReLU, Linear, ...) (no activation after
    the last linear; tensors 0.*, 2.*, 4.*, ...), applied to each sample flattened."""

    def __init__(self, *widths):
        if len(widths) < 2:
            raise ValueError("MLP needs at least an input and an output width")
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i + 2 < len(widths):
                layers.append(nn.ReLU())
        super().__init__(*layers)

    def forward(self, x):
        return super().forward(x.flatten(1))


def causal_mask(T, device=None):
    """The boolean mask nn.MultiheadAttention takes for causal self-attention: True above the
    diagonal (position t attends to positions <= t)."""
    return torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=1)


torch.fx.wrap("causal_mask")  # a leaf of torch.fx traces (the exporter checks its value)


class PositionalEmbedding(nn.Embedding):
    """Learned positions added to a sequence [N, T, D]: x + weight[:T] (nanoGPT's wpe, an
    nn.Embedding(context, D) applied to arange(T); init N(0, 1)). hesse: posembed(context, D)."""

    def forward(self, x):
        return x + super().forward(torch.arange(x.size(1), device=x.device))


class Block(nn.Module):
    """A pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)); self-attention
    with PyTorch's nn.MultiheadAttention (batch_first=True), causal when `causal`."""

    def __init__(self, width, heads, mlp, causal=False, bias=True):
        super().__init__()
        self.causal = causal
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, bias=bias, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Linear(mlp, width))

    def forward(self, x):
        h = self.ln_1(x)
        mask = causal_mask(x.size(1), x.device) if self.causal else None
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class ViTTiny(nn.Module):
    """vit-tiny: patch conv -> tokens -> learned positions -> pre-LN blocks -> LayerNorm ->
    mean over tokens -> linear head. Defaults: 1x28x28 input, patch 7 (16 tokens), D 64, 2
    blocks, 4 heads, MLP 2D."""

    def __init__(self, num_classes=10, depth=2, width=64, heads=4, mlp=None, channels=1,
                 image=28, patch=7):
        super().__init__()
        tokens = (image // patch) ** 2
        self.patch = nn.Conv2d(channels, width, patch, stride=patch)
        self.pos = PositionalEmbedding(tokens, width)
        self.blocks = nn.ModuleList(
            [Block(width, heads, mlp or 2 * width) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)  # [N, D, H, W] -> [N, H*W, D]
        x = self.pos(x)
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x).mean(dim=1))


class GPTTiny(nn.Module):
    """gpt-tiny: token embedding + learned positions -> causal pre-LN blocks -> LayerNorm ->
    linear head at every position (logits [N, T, vocab]). Defaults: vocabulary 256 (bytes),
    context 64, D 64, 2 blocks, 4 heads, MLP 4D."""

    def __init__(self, num_classes=256, context=64, depth=2, width=64, heads=4, mlp=None):
        super().__init__()
        self.tok = nn.Embedding(num_classes, width)
        self.pos = PositionalEmbedding(context, width)
        self.blocks = nn.ModuleList(
            [Block(width, heads, mlp or 4 * width, causal=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, idx):
        x = self.pos(self.tok(idx))
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x))


def block_arch(i, width, heads, mlp, causal=False):
    """hesse's two residual items of Block i."""
    c = ",causal=True" if causal else ""
    return ("blocks.%d:residual(ln_1:layernorm(%d),attn:multiheadattention(%d,%d%s)),"
            "blocks.%d:residual(ln_2:layernorm(%d),mlp.0:linear(%d,%d),gelu,"
            "mlp.2:linear(%d,%d))" % (i, width, width, heads, c, i, width, width, mlp, mlp, width))


def vit_arch(num_classes=10, depth=2, width=64, heads=4, mlp=None, channels=1, image=28,
             patch=7):
    """The hesse string of ViTTiny(...) (the expansion of vit-tiny for the defaults)."""
    mlp = mlp or 2 * width
    tokens = (image // patch) ** 2
    return ",".join(["patch:conv2d(%d,%d,%d,stride=%d),tokens,pos:posembed(%d,%d)" %
                     (channels, width, patch, patch, tokens, width)] +
                    [block_arch(i, width, heads, mlp) for i in range(depth)] +
                    ["norm:layernorm(%d),meanpool,head:linear(%d,%d)" %
                     (width, width, num_classes)])


def gpt_arch(num_classes=256, context=64, depth=2, width=64, heads=4, mlp=None):
    """The hesse string of GPTTiny(...) (the expansion of gpt-tiny for the defaults)."""
    mlp = mlp or 4 * width
    return ",".join(["tok:embedding(%d,%d),pos:posembed(%d,%d)" %
                     (num_classes, width, context, width)] +
                    [block_arch(i, width, heads, mlp, causal=True) for i in range(depth)] +
                    ["norm:layernorm(%d),head:linear(%d,%d)" % (width, width, num_classes)])


PRESET_INPUT = {"resnet18-cifar": (3, 32, 32), "vgg11-bn-cifar": (3, 32, 32),
                "lenet5": (1, 28, 28), "vit-tiny": (1, 28, 28), "gpt-tiny": (64,)}

_TRANSFORMER = re.compile(r"(vit-tiny|gpt-tiny)\s*(?:\(\s*((?:\w+\s*=\s*\d+\s*,?\s*)*)\))?")


def _transformer_preset(key):
    m = _TRANSFORMER.fullmatch(key)
    if not m:
        return None
    kw = {}
    for part in filter(None, (p.strip() for p in (m.group(2) or "").split(","))):
        k, v = (t.strip() for t in part.split("="))
        allowed = ("num_classes", "depth", "width") + (("context",) if m.group(1) ==
                                                          "gpt-tiny" else ())
        if k not in allowed or k in kw:
            raise KeyError("preset %s takes %s=N once each, not '%s'" %
                           (m.group(1), "/".join(allowed), part))
        kw[k] = int(v)
    if m.group(1) == "vit-tiny":
        return ViTTiny(**kw), PRESET_INPUT["vit-tiny"]
    return GPTTiny(**kw), (kw.get("context", 64),)


def preset(name):
    """(model, input shape) of a preset name, e.g. 'resnet18-cifar' or 'mlp(784,512,10)'.

    The input shape of mlp(D, ...) is (1, 28, 28) when D = 784, else (D,)."""
    key = name.strip().lower()
    if key == "resnet18-cifar":
        return ResNet18(), PRESET_INPUT[key]
    if key == "vgg11-bn-cifar":
        return VGG11BN(), PRESET_INPUT[key]
    if key == "lenet5":
        return LeNet5(), PRESET_INPUT[key]
    t = _transformer_preset(key)
    if t is not None:
        return t
    m = re.fullmatch(r"mlp\(\s*(\d+(?:\s*,\s*\d+)+)\s*\)", key)
    if m:
        widths = [int(w) for w in m.group(1).split(",")]
        return MLP(*widths), ((1, 28, 28) if widths[0] == 784 else (widths[0],))
    raise KeyError("unknown preset '%s' (known: resnet18-cifar, vgg11-bn-cifar, lenet5, "
                   "mlp(in,...,out), vit-tiny(...), gpt-tiny(...))" % name)


def is_preset(name):
    key = name.strip().lower()
    return (key in PRESET_INPUT or _TRANSFORMER.fullmatch(key) is not None or
            re.fullmatch(r"mlp\(\s*\d+(\s*,\s*\d+)+\s*\)", key) is not None)
