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

Input shapes: PRESET_INPUT gives each preset's (C, H, W).
"""
import re

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


PRESET_INPUT = {"resnet18-cifar": (3, 32, 32), "vgg11-bn-cifar": (3, 32, 32),
                "lenet5": (1, 28, 28)}


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
    m = re.fullmatch(r"mlp\(\s*(\d+(?:\s*,\s*\d+)+)\s*\)", key)
    if m:
        widths = [int(w) for w in m.group(1).split(",")]
        return MLP(*widths), ((1, 28, 28) if widths[0] == 784 else (widths[0],))
    raise KeyError("unknown preset '%s' (known: resnet18-cifar, vgg11-bn-cifar, lenet5, "
                   "mlp(in,...,out))" % name)


def is_preset(name):
    key = name.strip().lower()
    return key in PRESET_INPUT or re.fullmatch(r"mlp\(\s*\d+(\s*,\s*\d+)+\s*\)", key) is not None
