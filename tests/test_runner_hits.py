"""``make_runner(hits=...)``: counting each batch's correct predictions is optional."""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import host

from agnostic_mlp import MLP, Adam
from agnostic_mlp.engine import Objective
from agnostic_mlp.training.epoch import Block, make_runner


def test_a_runner_counts_hits_only_when_asked(backend: str, device: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    labels = (x[:, 0] > 0).astype(int)
    mlp = MLP(3, [4], 2, backend=backend, device=device, seed=0, dtype="float64",
              loss="categorical_cross_entropy")
    xp, runtime = mlp.xp, mlp.runtime
    xd = runtime.asarray(x)
    yd = runtime.asarray(np.eye(2)[labels])
    objective = Objective(mlp.config.activations, mlp.loss)
    optimizer = Adam()
    results = {}
    for hits in (None, True, False):
        runner = make_runner(runtime, objective, optimizer, hits=hits)
        state = optimizer.init(xp, mlp.params.flat())
        results[hits] = runner.run(mlp.params, state, [Block(xd, yd, None, None, 16)],
                                   [0.01] * 3)
    assert len(results[None].hits) == len(results[True].hits) == 1  # a classifier counts
    assert int(np.sum(host(results[None].hits[0]))) <= 40
    assert results[False].hits == []
    for a, b in zip(results[False].params.flat(), results[None].params.flat(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))  # the same steps either way
