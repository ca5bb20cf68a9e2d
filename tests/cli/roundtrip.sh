# The PyTorch round trip (tools/): a small residual CNN with batch norm, layer norm and
# dropout is made in PyTorch, exported with tools/hesse_export.py, measured by hesse, and the
# eigenvectors are read back with tools/hesse_vectors.py and checked with PyTorch's
# double-backward Hessian-vector products against the dense Hessian. The presets load
# tensors saved from tools/models.py by name; the exporter refuses what hesse cannot express.
# Needs Debian's python3-torch (scripts/install-deps.sh --bench); skipped without it.
. "$(dirname "$0")/lib.inc"

SRC=${HESSE_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
TOOLS="$SRC/tools"
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "roundtrip.sh: PyTorch missing ($PY -c 'import torch' fails): skipped (scripts/install-deps.sh --bench installs it)" >&2
    exit 77
fi

# The network, its data and the models the exporter must refuse, in one importable file.
cat >"$T/net.py" <<'PY'
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """pytorch-cifar style: shortcut = nn.Sequential() or 1x1 conv + BN, `out += shortcut(x)`"""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class TVBlock(nn.Module):
    """torchvision style: one ReLU module called twice, `downsample`, `out += identity`"""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                        nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(Block(4, 4, 1))
        self.layer2 = nn.Sequential(TVBlock(4, 6, 2))
        self.head = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.2),
                                  nn.LayerNorm(6), nn.Linear(6, 5))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.head(x)


def build():
    """Float64, PyTorch's init under a seed, then random running statistics and affine
    parameters so that batch norm is no identity; evaluation mode."""
    torch.manual_seed(7)
    net = Net().double()
    g = torch.Generator().manual_seed(8)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.normal_(0, 0.3, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
                m.num_batches_tracked.fill_(17)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.normal_(1, 0.2, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
    return net.eval()


def data():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(32, 3, 8, 8, dtype=torch.float64, generator=g)
    y = torch.randint(0, 5, (32,), generator=g)
    return x, y


class Cat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 2, 3, padding=1)
        self.b = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


def CatNet():
    return nn.Sequential(nn.Conv2d(3, 3, 1), Cat(), nn.Flatten(), nn.Linear(4 * 64, 5))


def GroupNet():
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)),
                         nn.Flatten(), nn.Linear(144, 5))


class MnistNet(nn.Module):
    """The classic PyTorch MNIST example (pytorch/examples, mnist/main.py), as written there."""

    def __init__(self):
        super(MnistNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


class MnistLogits(MnistNet):
    """The same network without its final log_softmax: what the hint asks for."""

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.fc2(self.dropout2(F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))))


def SoftmaxSeq():
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Dropout(0.1), nn.Softmax(dim=1))


class Split(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        return self.fc(x).chunk(2, dim=1)


class SplitSum(nn.Module):
    """A module returning a tuple, iterated by its caller (sum over it)."""

    def __init__(self):
        super().__init__()
        self.head = Split()

    def forward(self, x):
        return sum(self.head(x.flatten(1)))


def LSTMSeq():
    """nn.LSTM returns (output, (h, c)); nn.Sequential hands the tuple to the next layer."""
    return nn.Sequential(nn.LSTM(4, 6, batch_first=True), nn.Linear(6, 5))
PY

# Export the network and write its data; the presets' PyTorch models with two samples each.
"$PY" - "$TOOLS" "$T" <<'PY' || fail "export"
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import torch
import hesse_export, hesse_st, models, net
T = sys.argv[2]
arch = hesse_export.export(net.build(), T + "/model.safetensors", (3, 8, 8))
open(T + "/arch.txt", "w").write(arch + "\n")
x, y = net.data()
hesse_st.write(T + "/data.safetensors", {"x": x, "y": y})
# presets: PyTorch's default init in float32 (written as F32), the loss computed in float64
# from the same float32 values, which hesse converts exactly
ref = {}
for name in ("resnet18-cifar", "vgg11-bn-cifar", "lenet5", "mlp(784,512,512,10)"):
    torch.manual_seed(3)
    model, shape = models.preset(name)
    model.eval()
    tag = name.split("(")[0]
    hesse_export.export(model, "%s/preset-%s.safetensors" % (T, tag), shape)
    g = torch.Generator().manual_seed(4)
    xs = torch.randn(2, *shape, dtype=torch.float64, generator=g)
    ys = torch.tensor([1, 7])
    hesse_st.write("%s/data-%s.safetensors" % (T, tag), {"x": xs, "y": ys})
    with torch.no_grad():
        ref[tag] = float(torch.nn.functional.cross_entropy(model.double()(xs), ys))
json.dump(ref, open(T + "/preset-loss.json", "w"))
PY
checks=$((checks + 1))
grep -q '^conv1:conv2d(3,4,3,padding=1,bias=False),bn1:batchnorm2d(4),relu,layer1.0:residual(' "$T/arch.txt" ||
    fail "arch string: $(cat "$T/arch.txt")"
grep -q 'downsample.0:conv2d(4,6,1,stride=2,bias=False)' "$T/arch.txt" ||
    fail "torchvision downsample in the arch string: $(cat "$T/arch.txt")"

# hesse reads the exported file without --arch (the arch is in its metadata)
common="--model $T/model.safetensors --data $T/data.safetensors --samples 0 -q"
"$HESSE" eval $common -o "$T/eval.json" || fail "eval"
"$HESSE" spectrum $common --top 3 --bottom 2 --tol 1e-10 --vectors "$T/vec.safetensors" \
    -o "$T/spec.json" || fail "spectrum"
check_py "$T/spec.json" "d['converged'] == 5 and max(d['residuals_top'] + d['residuals_bottom']) <= 1e-10 * d['anorm']" \
    "spectrum converged to its tolerance"

# Back in PyTorch: the exported names load into the original class; loss, gradient norm,
# eigenvalues and eigenvectors against autograd and the dense Hessian.
"$PY" - "$TOOLS" "$T" <<'PY' || fail "PyTorch check"
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import torch
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call
import hesse_st, hesse_vectors, net
T = sys.argv[2]
tensors, meta = hesse_st.read(T + "/model.safetensors")
model = net.Net().double()
model.load_state_dict(tensors, strict=True)  # hesse's names are PyTorch's
model.eval()
x, y = net.data()
names = [n for n, _ in model.named_parameters()]
shapes = [p.shape for _, p in model.named_parameters()]
flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

def loss_of(flat):
    params, at = {}, 0
    for n, s in zip(names, shapes):
        params[n] = flat[at:at + s.numel()].reshape(s)
        at += s.numel()
    return F.cross_entropy(functional_call(model, params, (x,)), y)

loss = float(loss_of(flat0))
grad = torch.autograd.functional.jacobian(loss_of, flat0)
H = torch.autograd.functional.hessian(loss_of, flat0)
evals = torch.linalg.eigvalsh(H)
hnorm = float(evals.abs().max())
eig = hesse_vectors.load(T + "/vec.safetensors", model)
rows = hesse_vectors.check(model, eig, x, y)
V = torch.stack([hesse_vectors.flatten(v, model) for v in eig])
Hv = V @ H
res = [float((hv - lam * v).norm()) for hv, lam, v in zip(Hv, eig.eigenvalues, V)]
json.dump({"loss": loss, "grad_norm": float(grad.norm()), "hnorm": hnorm, "n": flat0.numel(),
           "top": evals.flip(0)[:3].tolist(), "bottom": evals[:2].tolist(),
           "eigenvalues": eig.eigenvalues.tolist(), "names": eig.names, "rows": rows,
           "dense_residuals": res,
           "gram": float((V @ V.T - torch.eye(len(V), dtype=V.dtype)).abs().max())},
          open(T + "/torch.json", "w"))
PY

# Loss and gradient: the same arithmetic in another order, so agreement to ~1e-15; the
# acceptance bound is 1e-9 relative.
check_py "$T/eval.json" "(lambda t: abs(d['loss'] - t['loss']) <= 1e-9 * t['loss'] and abs(d['grad_norm'] - t['grad_norm']) <= 1e-9 * t['grad_norm'])(json.load(open('$T/torch.json')))" \
    "eval: hesse's loss and gradient norm equal PyTorch's"
check_py "$T/torch.json" "d['n'] == json.load(open('$T/spec.json'))['dimension'] and d['names'][0] == 'conv1.weight'" \
    "vectors cover every parameter, in PyTorch's names"
# Eigenvalues: Lanczos converged to 1e-10 ||H|| against PyTorch's dense Hessian (eigvalsh):
# errors of ~1e-10 ||H|| at most, well within the 1e-9 acceptance bound.
check_py "$T/torch.json" "(lambda s: all(abs(a - b) <= 1e-9 * d['hnorm'] for a, b in zip(s['top'] + s['bottom'], d['top'] + d['bottom'])))(json.load(open('$T/spec.json')))" \
    "top 3 and bottom 2 eigenvalues equal PyTorch's dense Hessian's"
check_py "$T/torch.json" "d['eigenvalues'] == (lambda s: s['top'] + s['bottom'])(json.load(open('$T/spec.json')))" \
    "the vector file's eigenvalues are the JSON's"
# Eigenvectors: ||Hv - lambda v|| <= 1e-10 ||H|| in hesse's products; PyTorch's products
# differ from hesse's by rounding (~1e-14 ||H||), so 1e-9 ||H|| leaves a wide margin.
check_py "$T/torch.json" "all(r <= 1e-9 * d['hnorm'] for r in d['dense_residuals'])" \
    "eigenvectors: ||Hv - lambda v|| small with PyTorch's dense Hessian"
check_py "$T/torch.json" "all(abs(r['rayleigh'] - r['eigenvalue']) <= 1e-9 * d['hnorm'] and r['residual'] <= 1e-9 * d['hnorm'] for r in d['rows'])" \
    "hesse_vectors.check: double-backward Rayleigh quotients and residuals"
check_py "$T/torch.json" "d['gram'] <= 1e-10" "eigenvectors orthonormal"

# Presets by name: tensors saved from tools/models.py load with --arch <preset> and give
# PyTorch's loss (two samples each).
for p in resnet18-cifar vgg11-bn-cifar lenet5 'mlp(784,512,512,10)'; do
    tag=${p%%(*}
    "$HESSE" eval --model "$T/preset-$tag.safetensors" --arch "$p" \
        --data "$T/data-$tag.safetensors" --samples 0 -q -o "$T/eval-$tag.json" ||
        fail "eval --arch $p"
    check_py "$T/eval-$tag.json" "abs(d['loss'] - json.load(open('$T/preset-loss.json'))['$tag']) <= 1e-9 * d['loss']" \
        "preset $p: hesse's loss equals PyTorch's"
done
check_py "$T/eval-resnet18-cifar.json" "d['n_params'] == 11173962" "resnet18-cifar has 11,173,962 parameters"

# The other way: a model trained by hesse (its own file; unnamed items take positional names)
# rebuilt in PyTorch by tools/hesse_arch.py from the string in its metadata; its eigenvectors
# checked by tools/hesse_vectors.py's command line.
arch2='conv2d(3,4,3),relu,l:residual(conv2d(4,4,3,padding=1),tanh|conv2d(4,4,1,bias=False)),maxpool2d(2),residual(identity),flatten,linear(36,8),layernorm(8),gelu,linear(8,5)'
"$HESSE" train -q --arch "$arch2" --data "$T/data.safetensors" --samples 0 --epochs 2 --lr 0.05 \
    --no-test -o "$T/trained.safetensors" || fail "train"
"$HESSE" spectrum -q --model "$T/trained.safetensors" --data "$T/data.safetensors" --samples 0 \
    --top 2 --bottom 1 --tol 1e-10 --vectors "$T/vec2.safetensors" -o "$T/spec2.json" ||
    fail "spectrum of the trained model"
"$PY" "$TOOLS/hesse_vectors.py" "$T/vec2.safetensors" --model "$T/trained.safetensors" \
    --data "$T/data.safetensors" >"$T/check2.json" || fail "hesse_vectors.py --model --data"
# the same loss to rounding (1e-12 relative); residuals as above
check_py "$T/check2.json" "(lambda s: abs(d['loss'] - s['loss']) <= 1e-12 * s['loss'])(json.load(open('$T/spec2.json')))" \
    "a hesse-trained model evaluates to hesse's loss in PyTorch"
check_py "$T/check2.json" "(lambda s: len(d['check']) == 3 and all(abs(r['rayleigh'] - r['eigenvalue']) <= 1e-9 * s['anorm'] and r['residual'] <= 1e-9 * s['anorm'] for r in d['check']))(json.load(open('$T/spec2.json')))" \
    "hesse_vectors.py: eigenpairs of the hesse-trained model hold in PyTorch"

# hesse_vectors.py with the CLI's data options: the same Fashion-MNIST samples (test split, 300
# chosen at random with seed 5) as the spectrum run, so PyTorch's Rayleigh quotients equal
# hesse's eigenvalues; with another seed (other samples) they do not, so the check sees the
# selection. libhesse reads the data through the hesse Python package; the sanitizer build's
# library cannot load into an uninstrumented Python, and there the tool must refuse in one line.
fm="--data fashion-mnist --split test --samples 300 --select random"
"$HESSE" train -q --arch 'avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)' --samples 500 \
    --epochs 1 --no-test -o "$T/fm.safetensors" || fail "train on Fashion-MNIST"
"$HESSE" spectrum -q --model "$T/fm.safetensors" $fm --seed 5 --top 2 --tol 1e-10 \
    --vectors "$T/fmvec.safetensors" -o "$T/fmspec.json" || fail "spectrum on Fashion-MNIST"
if [ "${HESSE_SANITIZE:-0}" = 1 ]; then
    expect_error 2 "^hesse_vectors: --data fashion-mnist: reading it as hesse does needs the hesse Python package" -- \
        env HESSE_LIBRARY=/nonexistent/libhesse.so "$PY" "$TOOLS/hesse_vectors.py" "$T/fmvec.safetensors" \
        --model "$T/fm.safetensors" $fm --seed 5
else
    for seed in 5 6; do
        HESSE_LIBRARY=$(dirname "$HESSE")/libhesse.so "$PY" "$TOOLS/hesse_vectors.py" "$T/fmvec.safetensors" \
            --model "$T/fm.safetensors" $fm --seed $seed >"$T/fmcheck$seed.json" 2>"$T/fmcheck.err" ||
            fail "hesse_vectors.py --data fashion-mnist --seed $seed: $(cat "$T/fmcheck.err")"
    done
    check_py "$T/fmcheck5.json" "(lambda s: abs(d['loss'] - s['loss']) <= 1e-12 * s['loss'] and all(abs(r['rayleigh'] - r['eigenvalue']) <= 1e-9 * s['anorm'] and r['residual'] <= 1e-9 * s['anorm'] for r in d['check']))(json.load(open('$T/fmspec.json')))" \
        "hesse_vectors.py --data fashion-mnist --select random: the CLI's samples (loss, eigenpairs)"
    check_py "$T/fmcheck6.json" "(lambda s: max(r['residual'] for r in d['check']) > 1e-3 * s['anorm'])(json.load(open('$T/fmspec.json')))" \
        "hesse_vectors.py: another seed selects other samples (the check is sensitive to it)"
fi
expect_error 1 "^hesse_vectors: unrecognized arguments: --label-noise 0\.1" -- \
    "$PY" "$TOOLS/hesse_vectors.py" "$T/fmvec.safetensors" --model "$T/fm.safetensors" $fm --label-noise 0.1

# Refusals name the module and what is unsupported (exit 2, one line)
expect_error 2 "^hesse_export: module '1' \(Cat\): torch\.cat \(concatenation\) is not supported" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:CatNet" --input-shape 3,8,8 -o "$T/out.safetensors"
expect_error 2 "^hesse_export: module '1\.0' \(Conv2d\): groups=2 is not supported" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:GroupNet" --input-shape 3,8,8 -o "$T/out.safetensors"


# The classic MNIST example ends in F.log_softmax: refused with the hint (the loss includes the
# softmax), naming the function; nn.Softmax after a dropout is found the same way.
expect_error 2 "^hesse_export: the model's forward \(MnistNet\): the model ends in F\.log_softmax; remove it: hesse's cross-entropy includes the softmax" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:MnistNet" --input-shape 1,28,28 -o "$T/out.safetensors"
expect_error 2 "^hesse_export: module '3' \(Softmax\): the model ends in nn\.Softmax; remove it: hesse's cross-entropy includes the softmax" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:SoftmaxSeq" --input-shape 3,2,2 -o "$T/out.safetensors"
# A module returning a tuple is named, whether the caller iterates over it (a trace error) or a
# layer receives it (a run-time error)
expect_error 2 "^hesse_export: module 'head' \(Split\): returns a tuple .*that the model iterates over" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:SplitSum" --input-shape 3,2,2 -o "$T/out.safetensors"
expect_error 2 "^hesse_export: module '0' \(LSTM\): returns a tuple, not one tensor" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:LSTMSeq" --input-shape 7,4 -o "$T/out.safetensors"
# With the log_softmax removed, the same weights export, and hesse's loss on the logits is
# PyTorch's F.nll_loss of the original model's log_softmax output (the hint's promise).
"$PY" - "$TOOLS" "$T" <<'PY' || fail "MNIST example without log_softmax; the file missing a tensor"
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import torch
import torch.nn.functional as F
import hesse_export, hesse_st, net
T = sys.argv[2]
torch.manual_seed(11)
orig = net.MnistNet().double().eval()
logits = net.MnistLogits().double().eval()
logits.load_state_dict(orig.state_dict())
hesse_export.export(logits, T + "/mnist.safetensors", (1, 28, 28))
g = torch.Generator().manual_seed(12)
x = torch.rand(6, 1, 28, 28, dtype=torch.float64, generator=g)
y = torch.tensor([0, 3, 9, 1, 1, 7])
hesse_st.write(T + "/mnist-data.safetensors", {"x": x, "y": y})
with torch.no_grad():
    json.dump({"loss": float(F.nll_loss(orig(x), y))}, open(T + "/mnist-ref.json", "w"))
# for the missing-tensor messages below: the exported network without one tensor
t, meta = hesse_st.read(T + "/model.safetensors")
del t["head.5.bias"]
hesse_st.write(T + "/nobias.safetensors", t, meta)
PY
"$HESSE" eval -q --model "$T/mnist.safetensors" --data "$T/mnist-data.safetensors" --samples 0 \
    -o "$T/mnist-eval.json" || fail "eval of the exported MNIST example"
check_py "$T/mnist-eval.json" "abs(d['loss'] - json.load(open('$T/mnist-ref.json'))['loss']) <= 1e-12 * d['loss']" \
    "MNIST example: hesse's cross-entropy on the logits is nll_loss of the log_softmax"

# A missing tensor: the message lists the names the file has (a few, then how many more)
expect_error 2 "nobias\.safetensors: tensor 'head\.5\.bias' is missing; linear\(6,5\) \(module head\.5\) needs it with shape \[5\]; the file has [0-9]+ tensors: 'conv1\.weight', 'bn1\.weight', .* \.\.\. and [0-9]+ more$" -- \
    "$HESSE" eval --model "$T/nobias.safetensors" --data "$T/data.safetensors" --samples 0 -o "$T/out.json"
expect_error 2 "^hesse_export: .*nobias\.safetensors: tensor 'head\.5\.bias' is missing; the file has [0-9]+ tensors: 'conv1\.weight', .* \.\.\. and [0-9]+ more$" -- \
    "$PY" "$TOOLS/hesse_export.py" "$T/net.py:Net" --input-shape 3,8,8 --weights "$T/nobias.safetensors" -o "$T/out.safetensors"
expect_error 2 "^hesse_vectors: .*nobias\.safetensors: tensor 'head\.5\.bias' is missing; the architecture needs it with shape \[5\]; the file has [0-9]+ tensors: 'conv1\.weight', .* \.\.\. and [0-9]+ more$" -- \
    "$PY" "$TOOLS/hesse_vectors.py" "$T/vec.safetensors" --model "$T/nobias.safetensors" --data "$T/data.safetensors"

finish
