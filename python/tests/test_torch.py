"""Model.from_torch: PyTorch modules converted in memory give PyTorch's loss and PyTorch's
double-backward Hessian-vector products, and the exporter's refusals."""

import numpy as np
import pytest

import hesse

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Block(nn.Module):
    """A residual block with batch norm (ResNet's BasicBlock with a projection shortcut)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(2, 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.block(x)), 1))


def seq_cnn():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3 * 3 * 3, 5))


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def torch_loss_hvp(model, x, y, V):
    model = model.double().eval()
    params = [p for p in model.parameters()]
    loss = F.cross_entropy(model(torch.tensor(x)), torch.tensor(y, dtype=torch.long))
    g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params, create_graph=True)])
    cols = []
    for j in range(V.shape[1]):
        hv = torch.autograd.grad(g @ torch.tensor(V[:, j]), params, retain_graph=True)
        cols.append(torch.cat([t.reshape(-1) for t in hv]).detach().numpy())
    return loss.item(), np.stack(cols, axis=1)


@pytest.mark.parametrize("make", [seq_cnn, ResBN], ids=["sequential_cnn", "residual_bn"])
def test_from_torch_loss_and_hvp(make):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        randomise_bn(model, gen)
    model.eval()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 2, 6, 6))
    y = rng.integers(0, 5, 12)
    m = hesse.Model.from_torch(model, (2, 6, 6))
    H = hesse.Hessian(m, hesse.Data.from_numpy(x, y, num_classes=5))
    n = sum(p.numel() for p in model.parameters())
    assert H.n == n
    V = rng.standard_normal((n, 3))
    loss_ref, hv_ref = torch_loss_hvp(model, x, y, V)
    loss, _ = H.loss()
    assert abs(loss - loss_ref) <= 1e-12 * max(1.0, abs(loss_ref)), (loss, loss_ref)
    hv = H @ V
    err = np.abs(hv - hv_ref).max() / np.abs(hv_ref).max()
    assert err < 1e-10, err
    # Parameters in PyTorch's order and layout.
    sd = m.state_dict()
    for name, p in model.named_parameters():
        assert np.array_equal(sd[name], p.detach().double().numpy()), name


def test_from_torch_refuses_what_the_exporter_refuses():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(hesse.BadInput, match="called more than once"):
        hesse.Model.from_torch(Shared(), (4,))


def test_callback_on_a_torch_hvp_of_a_model_hesse_cannot_load():
    """A network with a shared layer (which hesse refuses) solved through the callback path:
    its torch double-backward HVP as f(X); the reference is the dense Hessian by
    torch.autograd.functional.hessian and LAPACK."""
    torch.manual_seed(3)
    fc = nn.Linear(4, 4).double()
    out = nn.Linear(4, 3).double()
    x = torch.randn(20, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    shapes = [p.shape for p in list(fc.parameters()) + list(out.parameters())]
    sizes = [int(np.prod(s)) for s in shapes]
    theta0 = torch.cat([p.detach().reshape(-1) for p in list(fc.parameters()) +
                        list(out.parameters())])

    def loss_of(theta):
        ps, at = [], 0
        for s, k in zip(shapes, sizes):
            ps.append(theta[at:at + k].reshape(s))
            at += k
        h = torch.tanh(F.linear(torch.tanh(F.linear(x, ps[0], ps[1])), ps[0], ps[1]))
        return F.cross_entropy(F.linear(h, ps[2], ps[3]), y)

    theta = theta0.clone().requires_grad_(True)
    g = torch.autograd.grad(loss_of(theta), theta, create_graph=True)[0]

    def hvp(X):
        cols = [torch.autograd.grad(g @ torch.tensor(X[:, j]), theta, retain_graph=True)[0]
                for j in range(X.shape[1])]
        return torch.stack(cols, dim=1).numpy()

    n = theta0.numel()
    exact = np.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, theta0).numpy())
    r = hesse.eigs(hvp, n=n, top=3, bottom=2, tol=1e-10)
    assert np.abs(r.top - exact[::-1][:3]).max() < 1e-8, (r.top, exact[-3:])
    assert np.abs(r.bottom - exact[:2]).max() < 1e-8, (r.bottom, exact[:2])
    assert r.converged == 5 and r.residuals.max() < 1e-9 * np.abs(exact).max()


def test_params_written_from_python_reach_the_operator():
    """m.params = v changes the model under an existing Hessian (the engine's cache follows):
    its products equal those of a model made from the changed module."""
    torch.manual_seed(5)
    net = seq_cnn().double()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 2, 6, 6)), rng.integers(0, 5, 8)
    data = hesse.Data.from_numpy(x, y, num_classes=5)
    m = hesse.Model.from_torch(net, (2, 6, 6))
    H = hesse.Hessian(m, data)
    v = rng.standard_normal(H.n)
    before = H @ v
    m.params = 1.5 * m.params
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.5)
    ref = hesse.Hessian(hesse.Model.from_torch(net, (2, 6, 6)), data) @ v
    after = H @ v
    assert np.array_equal(after, ref)
    assert not np.allclose(after, before)


class MnistExample(nn.Module):
    """The classic PyTorch MNIST example's shape (conv, conv, pool, two linears), smaller, with
    its final F.log_softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return F.log_softmax(self.fc2(x), dim=1)


def test_from_torch_final_log_softmax_hint():
    with pytest.raises(hesse.BadInput, match=r"the model ends in F\.log_softmax; remove it: "
                                             r"hesse's cross-entropy includes the softmax"):
        hesse.Model.from_torch(MnistExample().eval(), (1, 8, 8))
    with pytest.raises(hesse.BadInput, match=r"module '2' \(LogSoftmax\): the model ends in "
                                             r"nn\.LogSoftmax; remove it"):
        hesse.Model.from_torch(nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax(1)),
                               (4,))


def test_from_torch_tuple_output_names_the_module():
    with pytest.raises(hesse.BadInput, match=r"module '0' \(LSTM\): returns a tuple, not one "
                                             r"tensor"):
        hesse.Model.from_torch(nn.Sequential(nn.LSTM(4, 6, batch_first=True), nn.Linear(6, 5)),
                               (7, 4))
