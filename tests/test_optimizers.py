"""Optimizers and losses against PyTorch as an oracle (float64, same weights, same batches)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, SGD, Adam, ExponentialDecay, StepDecay

torch = pytest.importorskip("torch")

OPTIMIZERS = {
    "sgd": (lambda: SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (lambda: SGD(0.05, momentum=0.9, weight_decay=0.01),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    "nesterov": (lambda: SGD(0.05, momentum=0.8, nesterov=True),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda: Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_decay": (lambda: Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6, weight_decay=0.1),
                   lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6,
                                              weight_decay=0.1)),
}
LOSSES = {
    "mse": ("identity", lambda: torch.nn.MSELoss()),
    "binary_cross_entropy": ("sigmoid", lambda: torch.nn.BCEWithLogitsLoss()),
    "categorical_cross_entropy": ("softmax", lambda: torch.nn.CrossEntropyLoss()),
}


def _torch_net(mlp: MLP) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases, strict=True)):
        lin = torch.nn.Linear(*w.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(host(w).T.copy()))
            lin.bias.copy_(torch.from_numpy(host(b).copy()))
        layers.append(lin)
        if i < len(mlp.weights) - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_weights_match_torch_after_n_steps(backend, device, opt_name, loss_name):
    out_act, torch_loss = LOSSES[loss_name]
    ours, theirs = OPTIMIZERS[opt_name]
    n_out = 3
    mlp = MLP(4, [6, 5], n_out, backend=backend, device=device, dtype="float64", seed=4,
              activation="tanh", output_activation=out_act, loss=loss_name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    if loss_name == "categorical_cross_entropy":
        y = rng.integers(0, n_out, size=40)
        y_torch = torch.from_numpy(y)
    else:
        y = rng.random((40, n_out))
        y_torch = torch.from_numpy(y)
    net = _torch_net(mlp)
    opt = theirs(net.parameters())
    criterion = torch_loss()
    for _ in range(2):  # 2 epochs of 5 batches, in order
        for lo in range(0, 40, 8):
            opt.zero_grad()
            criterion(net(torch.from_numpy(x[lo:lo + 8])), y_torch[lo:lo + 8]).backward()
            opt.step()
    mlp.fit(x, y, epochs=2, batch_size=8, optimizer=ours(), shuffle=False, verbose=0)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for lin, w, b in zip(linears, mlp.weights, mlp.biases, strict=True):
        np.testing.assert_allclose(host(w), lin.weight.detach().numpy().T, rtol=0, atol=1e-10)
        np.testing.assert_allclose(host(b), lin.bias.detach().numpy(), rtol=0, atol=1e-10)


def test_loss_values_match_torch(backend, device):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(7, 3)) * 30  # large logits: the stable formulas matter
    for loss_name, (out_act, torch_loss) in LOSSES.items():
        mlp = MLP(3, [], 3, backend=backend, device=device, dtype="float64", bias=False,
                  output_activation=out_act, loss=loss_name)
        mlp.weights = [np.eye(3)]
        y = rng.integers(0, 3, size=7) if loss_name == "categorical_cross_entropy" else (
            rng.random((7, 3)))
        expected = float(torch_loss()(torch.from_numpy(z), torch.from_numpy(y)))
        assert mlp.evaluate(z, y)["loss"] == pytest.approx(expected, rel=1e-12), loss_name


def test_schedules():
    step = StepDecay(0.1, step_size=10, gamma=0.5)
    assert [step(s) for s in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    expo = ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5)
    assert expo(8) == pytest.approx(0.25)
    assert expo(2) == pytest.approx(0.5**0.5)
    assert ExponentialDecay(1.0, 4, 0.5, staircase=True)(7) == 0.5


def test_schedule_drives_the_step_size(backend, device):
    """A callable learning rate equals the same constant-per-step updates by hand."""
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = np.random.default_rng(1).random((16, 1))
    lrs = [0.5, 0.25, 0.125, 0.0625]
    a = MLP(2, [3], 1, backend=backend, device=device, dtype="float64", seed=0)
    a.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0,
          optimizer=SGD(lambda s: lrs[s]))
    b = MLP(2, [3], 1, backend=backend, device=device, dtype="float64", seed=0)
    for k, lr in enumerate(lrs):
        b.fit(x[4 * k:4 * k + 4], y[4 * k:4 * k + 4], epochs=1, batch_size=4, shuffle=False,
              verbose=0, optimizer=SGD(lr))
    for wa, wb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(host(wa), host(wb), rtol=1e-14)


def test_optimizer_arguments_are_checked():
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta_1"):
        Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="optimizer"):
        MLP(2, [2], 1, optimizer="rmsprop")
