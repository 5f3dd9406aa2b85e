"""What each process runs in the MPI tests: ``mpiexec -n 2 python worker.py SCENARIO OUT ...``.

Every process writes what it saw to ``OUT/<scenario>.<rank>.pkl`` (and prints);
``tests/test_distributed.py`` launches this script, then compares the files
with one process's training, which it computes itself from the same cases
(this module is imported there too: MPI starts only in :func:`main`).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agnostic_mlp import MLP, SGD, Adam, DivergenceError, EarlyStopping, Optimizer
from agnostic_mlp.backends import to_numpy
from agnostic_mlp.engine import Objective, train_step
from agnostic_mlp.errors import ProcessMismatchError
from agnostic_mlp.training.loop import Dataset, FitConfig
from agnostic_mlp.training.loop import fit as run_fit

BATCH = 5
EPOCHS = 3
SIZES = {"equal": (23, 23), "unequal": (31, 17)}
OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "sgd": lambda: SGD(0.2),
    "momentum": lambda: SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(0.01),
}


@dataclass(frozen=True)
class Case:
    """One fit: the optimizer, biases, dtype, how the rows are split, shuffling, weights and L2."""

    optimizer: str
    bias: bool = True
    dtype: str = "float64"
    sizes: str = "unequal"
    shuffle: bool = False
    weighted: bool = False
    l2: float = 0.0
    epochs: int = EPOCHS
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return (f"{self.optimizer}-{'bias' if self.bias else 'nobias'}-{self.dtype}-{self.sizes}"
                f"{'-shuffle' if self.shuffle else ''}{'-weighted' if self.weighted else ''}"
                f"{'-l2' if self.l2 else ''}")

    def model(self, backend: str = "numpy", device: Any = None) -> MLP:
        return MLP(5, [7, 4], 3, activation=["tanh", "relu"], loss="categorical_cross_entropy",
                   dtype=self.dtype, bias=self.bias, seed=11, backend=backend, device=device)

    def shards(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each process's ``(X, labels, sample weights)``, in rank order."""
        sizes = SIZES[self.sizes]
        rng = np.random.default_rng(7)
        x = rng.normal(size=(sum(sizes), 5))
        labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.5).astype(np.int64)
        weights = rng.uniform(0.2, 2.0, size=sum(sizes))
        edges = np.cumsum((0, *sizes))
        return [(x[a:b], labels[a:b], weights[a:b]) for a, b in itertools.pairwise(edges)]


CASES = [Case(o, b, d, s) for o in OPTIMIZERS for b in (True, False)
         for d in ("float64", "float32") for s in ("equal", "unequal")]
CASES += [Case("adam", shuffle=True), Case("momentum", weighted=True, l2=0.05),
          Case("adam", sizes="equal", weighted=True, l2=0.05)]


def shuffled(case: Case, rng: np.random.Generator, shards: list[Any]) -> list[Any]:
    """The shards in the order one epoch takes them (as DataParallel.generator draws it)."""
    if not case.shuffle:
        return shards
    seed = int(rng.integers(2**63))
    out = []
    for rank, shard in enumerate(shards):
        order = np.random.default_rng([seed, rank]).permutation(len(shard[0]))
        out.append(tuple(a[order] for a in shard))
    return out


def reference(case: Case) -> dict[str, Any]:
    """One process trained on the concatenated global batches, with the engine's step.

    Step k's batch is every process's k-th batch, in rank order; its loss is
    their mean (weighted by the sample weights, with the L2 penalty once).
    """
    model = case.model()
    xp, rt = model.xp, model.runtime
    optimizer = OPTIMIZERS[case.optimizer]()
    objective = Objective(model.config.activations, model.loss, l2=case.l2)
    params = model.params
    state = optimizer.init(xp, params.flat())
    shards = case.shards()
    steps = max(math.ceil(len(s[0]) / BATCH) for s in shards)
    total = sum(float(np.sum(s[2])) if case.weighted else len(s[0]) for s in shards)
    losses, k = [], 0
    for _ in range(case.epochs):
        epoch_shards = shuffled(case, model.rng, shards)
        loss = 0.0
        for b in range(steps):
            parts = [tuple(a[b * BATCH:(b + 1) * BATCH] for a in s) for s in epoch_shards
                     if b * BATCH < len(s[0])]
            x = rt.asarray(np.concatenate([p[0] for p in parts]))
            y = rt.asarray(np.eye(3)[np.concatenate([p[1] for p in parts])])
            w = rt.asarray(np.concatenate([p[2] for p in parts])) if case.weighted else None
            params, state, loss_sum, _ = train_step(xp, objective, optimizer, params, state,
                                                    x, y, optimizer.rate_at(k), w)
            loss += float(xp.sum(loss_sum))  # per-sample losses
            k += 1
        losses.append(loss / total)
    return {"params": [np.array(to_numpy(p), dtype=np.float64) for p in params.flat()],
            "loss": losses}


def digest(arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(to_numpy(a)).tobytes())
    return h.hexdigest()


def checked(optimizer: Optimizer, comm: Any, log: list[bool]) -> Optimizer:
    """``optimizer``, also comparing the new weights across processes after every step."""
    base = type(optimizer)

    class Checked(base):  # type: ignore[valid-type, misc]
        def update(self, xp: Any, params: Any, grads: Any, state: Any, lr: Any) -> Any:
            new, state = super().update(xp, params, grads, state, lr)
            everyone = comm.allgather(digest(new))
            log.append(all(d == everyone[0] for d in everyone))
            return new, state

    optimizer.__class__ = Checked
    return optimizer


def params_of(model: MLP) -> list[np.ndarray]:
    return [np.array(to_numpy(p), dtype=np.float64) for p in model.parameters()]


def save(out: Path, scenario: str, rank: int, result: Any) -> None:
    with open(out / f"{scenario}.{rank}.pkl", "wb") as f:
        pickle.dump(result, f)


# -- scenarios -------------------------------------------------------------------------


def train_case(case: Case, dp: Any, backend: str = "numpy", device: Any = None,
               check_steps: bool = True) -> dict[str, Any]:
    rank = dp.rank
    x, labels, w = case.shards()[rank]
    model = case.model(backend, device)
    steps: list[bool] = []
    optimizer = OPTIMIZERS[case.optimizer]()
    if check_steps:
        optimizer = checked(optimizer, dp.communicator, steps)
    if case.weighted or case.l2:
        rt = model.runtime
        objective = Objective(model.config.activations, model.loss, l2=case.l2)
        data = Dataset(rt.asarray(x), rt.asarray(np.eye(3)[labels]),
                       rt.asarray(w) if case.weighted else None)
        history = run_fit(model, optimizer, objective, data, None,
                          FitConfig(case.epochs, BATCH, case.shuffle), [], parallel=dp)
    else:
        history = model.fit(x, labels, epochs=case.epochs, batch_size=BATCH,
                            shuffle=case.shuffle, optimizer=optimizer, verbose=0, parallel=dp)
    return {"params": params_of(model), "loss": list(history["loss"]), "steps": steps,
            "path": dp.buffer_path, "digest": digest(model.parameters())}


def equivalence(dp: Any, out: Path, args: list[str]) -> None:
    results = {case.name: train_case(case, dp) for case in CASES}
    save(out, "equivalence", dp.rank, results)


def backend(dp: Any, out: Path, args: list[str]) -> None:
    name = args[0]
    device = "device1" if name == "array_api_strict" else None
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    cases = [Case("adam"), Case("sgd", sizes="equal")]
    save(out, f"backend-{name}", dp.rank,
         {case.name: train_case(case, dp, name, device) for case in cases})


def classification(rank: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + rank)
    x = rng.normal(size=(n, 5))
    return x, (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)


def small_model(**kwargs: Any) -> MLP:
    options: dict[str, Any] = dict(activation="tanh", loss="categorical_cross_entropy",
                                   dtype="float64", seed=5)
    options.update(kwargs)
    hidden = options.pop("hidden", [6])
    return MLP(5, hidden, 2, **options)


def expect_mismatch(run: Callable[[], Any]) -> str | None:
    try:
        run()
    except ProcessMismatchError as error:
        return str(error)
    return None


def features(dp: Any, out: Path, args: list[str]) -> None:
    rank = dp.rank
    result: dict[str, Any] = {}
    train = classification(rank, 20, 100)
    val = classification(rank, (9, 6)[rank], 200)
    val = (val[0], np.random.default_rng(rank).integers(0, 2, len(val[1])))  # noise: overfits

    # Validation metrics, early stopping and progress lines.
    print(f"features: rank {rank} starts", flush=True)
    model = small_model()
    history = model.fit(*train, epochs=30, batch_size=4, shuffle=False, optimizer=Adam(0.05),
                        validation_data=val, early_stopping=EarlyStopping(patience=2),
                        verbose=2, parallel=dp)
    result["validation"] = {"history": dict(history.history), "params": params_of(model),
                            "stopped": history.stopped_epoch, "best": history.best_epoch}

    # A callback that stops one process stops them all, at the same epoch.
    model = small_model()
    history = model.fit(*train, epochs=5, batch_size=4, verbose=0, parallel=dp,
                        callbacks=lambda m, epoch, logs: rank == 1 and epoch == 1)
    result["one_stops"] = {"epochs": len(history.epoch), "stopped": history.stopped_epoch}

    # The tutorial's train prints from process 0 only.
    tutorial = MLP(5, [4], 1, bias=False, dtype="float64", seed=2)
    errors = tutorial.train(train[0], train[1][:, None] * 0.5, 2, 0.5, batch_size=4,
                            parallel=dp)
    result["tutorial"] = {"errors": errors, "digest": digest(tutorial.parameters())}

    # A divergence is raised on every process, at the same batch.
    model = MLP(5, [6], 1, activation="identity", output_activation="identity",
                dtype="float64", seed=1)
    try:
        model.fit(train[0] * 100, train[1] * 100.0, epochs=3, batch_size=4, shuffle=False,
                  optimizer=SGD(1.0), verbose=0, parallel=dp)
        result["divergence"] = None
    except DivergenceError as error:
        result["divergence"] = {"epoch": error.epoch, "batch": error.batch,
                                "digest": digest(model.parameters()),
                                "finite": all(np.isfinite(p).all() for p in params_of(model))}

    # Mismatched settings, and different initial weights, are refused at the start.
    def fit(model: MLP, **kwargs: Any) -> None:
        options: dict[str, Any] = dict(epochs=2, batch_size=4, verbose=0, parallel=dp)
        options.update(kwargs)
        model.fit(*train, **options)

    result["mismatch"] = {
        "batch_size": expect_mismatch(lambda: fit(small_model(), batch_size=(4, 5)[rank])),
        "layers": expect_mismatch(lambda: fit(small_model(hidden=([6], [8])[rank]))),
        "dtype": expect_mismatch(lambda: fit(small_model(dtype=("float64", "float32")[rank]))),
        "optimizer": expect_mismatch(lambda: fit(small_model(), optimizer=("adam", "sgd")[rank])),
        "learning_rate": expect_mismatch(lambda: fit(small_model(), optimizer=Adam(
            (0.01, 0.02)[rank]))),
        "seed": expect_mismatch(lambda: fit(small_model(seed=(5, 6)[rank]))),
        "unseeded": expect_mismatch(lambda: fit(small_model(seed=None))),  # other weights
    }

    # Checkpoints: process 0 alone writes; every process resumes, bit for bit.
    from agnostic_mlp.io import checkpoint as checkpoint_file

    writes: list[int] = []
    write = checkpoint_file.write

    def counted(*a: Any, **k: Any) -> Any:
        writes.append(1)
        return write(*a, **k)

    checkpoint_file.write = counted  # type: ignore[assignment]
    path = out / "features.ckpt"
    shard = (train[0][: 20 - 7 * rank], train[1][: 20 - 7 * rank])  # unequal: 20 and 13
    first = small_model()
    first.fit(*shard, epochs=2, batch_size=4, optimizer=Adam(0.02), verbose=0,
              checkpoint=path, parallel=dp)
    resumed = small_model()
    resumed.fit(*shard, epochs=4, batch_size=4, optimizer=Adam(0.02), verbose=0,
                checkpoint=path, parallel=dp)
    whole = small_model()
    whole.fit(*shard, epochs=4, batch_size=4, optimizer=Adam(0.02), verbose=0, parallel=dp)
    checkpoint_file.write = write  # type: ignore[assignment]
    result["checkpoint"] = {"writes": len(writes), "resumed": digest(resumed.parameters()),
                            "whole": digest(whole.parameters())}
    print(f"features: rank {rank} done", flush=True)
    save(out, "features", rank, result)


def fault(dp: Any, out: Path, args: list[str]) -> None:
    """Train with a checkpoint, slowly (``args``: checkpoint, epochs, seconds per epoch)."""
    path, epochs, pause = Path(args[0]), int(args[1]), float(args[2])
    (out / f"pid.{dp.rank}").write_text(str(os.getpid()))
    case = Case("adam", shuffle=True)
    x, labels, _ = case.shards()[dp.rank]
    model = case.model()
    model.fit(x, labels, epochs=epochs, batch_size=BATCH, optimizer=Adam(0.01), verbose=0,
              checkpoint=path, parallel=dp, callbacks=lambda m, e, logs: time.sleep(pause))
    save(out, f"fault-{path.stem}", dp.rank, {"digest": digest(model.parameters()),
                                              "params": params_of(model)})


def abort(dp: Any, out: Path, args: list[str]) -> None:
    """Process 1 fails alone at its second epoch; the others must not wait for ever."""
    def fail(model: Any, epoch: int, logs: Any) -> None:
        if dp.rank == 1 and epoch == 1:
            raise RuntimeError("process 1 fails alone")

    x, labels = classification(dp.rank, 20, 0)
    small_model().fit(x, labels, epochs=50, batch_size=4, verbose=0, parallel=dp, callbacks=fail)
    save(out, "abort", dp.rank, {"finished": True})


def refused(dp: Any, out: Path, args: list[str]) -> None:
    """Process 1's data is refused before fit begins; process 0 waits in the first check."""
    x, labels = classification(dp.rank, 20, 0)
    if dp.rank == 1:
        x[3, 2] = np.nan
    small_model().fit(x, labels, epochs=2, batch_size=4, verbose=0, parallel=dp)
    save(out, "refused", dp.rank, {"finished": True})


def streamed(dp: Any, out: Path, args: list[str]) -> None:
    """Each process streams its own shard from its own memmap file."""
    from agnostic_mlp import Stream

    rank = dp.rank
    x, labels = classification(rank, (203, 150)[rank], 40)
    np.save(out / f"x.{rank}.npy", x)
    np.save(out / f"labels.{rank}.npy", labels)
    xs = np.load(out / f"x.{rank}.npy", mmap_mode="r")
    ls = np.load(out / f"labels.{rank}.npy", mmap_mode="r")
    result: dict[str, Any] = {}
    for name, data in (("memory", (x, labels)), ("disk", (Stream(xs, window=37), ls))):
        model = small_model()
        history = model.fit(*data, epochs=4, batch_size=8, shuffle=False, verbose=0,
                            parallel=dp)
        result[name] = {"params": params_of(model), "loss": list(history["loss"])}
    model = small_model()
    history = model.fit(Stream(xs, window=37), ls, epochs=4, batch_size=8, verbose=0,
                        parallel=dp, validation_split=0.2)
    result["shuffled"] = {"digest": digest(model.parameters()),
                          "val_loss": list(history["val_loss"])}
    save(out, "streamed", rank, result)


def streamed_bad(dp: Any, out: Path, args: list[str]) -> None:
    """A NaN in process 1's last window, found in the first epoch: every process ends."""
    from agnostic_mlp import Stream

    x, labels = classification(dp.rank, 150, 40)
    if dp.rank == 1:
        x[140, 2] = np.nan
    np.save(out / f"x.{dp.rank}.npy", x)
    xs = np.load(out / f"x.{dp.rank}.npy", mmap_mode="r")
    small_model().fit(Stream(xs, window=37), labels, epochs=6, batch_size=8, verbose=0,
                      parallel=dp)
    save(out, "streamed_bad", dp.rank, {"finished": True})


SCENARIOS = {f.__name__: f for f in (equivalence, backend, features, fault, abort, refused,
                                     streamed, streamed_bad)}


def main() -> None:
    from agnostic_mlp.distributed import MPIDataParallel

    scenario, out, args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    dp = MPIDataParallel()
    SCENARIOS[scenario](dp, out, args)


if __name__ == "__main__":
    main()
