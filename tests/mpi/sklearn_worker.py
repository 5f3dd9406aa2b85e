"""What each process runs in the estimators' MPI test: ``mpiexec -n 2 python
sklearn_worker.py OUT``. Each process fits the estimators of :data:`CASES` on its
own shard (:func:`shard`) and writes what it got to ``OUT/sklearn.<rank>.pkl``;
``tests/test_sklearn_distributed.py`` compares them with one process (this module
is imported there too: MPI starts only in :func:`main`)."""

from __future__ import annotations

import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 16
ROWS = 150  # per process: the last batch of each is short (150 = 9 * 16 + 6)
CASES: dict[str, dict[str, Any]] = {
    "adam, alpha": dict(solver="adam", alpha=0.01),
    "sgd, nesterov, alpha": dict(solver="sgd", alpha=0.05, learning_rate_init=0.1),
    "sgd, weighted": dict(solver="sgd", learning_rate_init=0.1, weighted=True),
    "adam, early stopping": dict(solver="adam", early_stopping=True, n_iter_no_change=2,
                                 alpha=0.01),
}


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2 * ROWS, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8).astype(int)
    return X, y, rng.uniform(0.5, 2.0, size=2 * ROWS)


def shard(rank: int) -> slice:
    return slice(rank * ROWS, (rank + 1) * ROWS)


def interleaved(*arrays: np.ndarray) -> list[np.ndarray]:
    """Every process's rows as one process's, batch after batch: the k-th batch of each
    process, in rank order (the global batches)."""
    order = np.concatenate([np.r_[k:min(k + BATCH, ROWS)] + rank * ROWS
                            for k in range(0, ROWS, BATCH) for rank in (0, 1)])
    return [a[order] for a in arrays]


def estimator(case: dict[str, Any], **extra: Any) -> Any:
    from agnostic_mlp import MLPClassifier

    options = {k: v for k, v in case.items() if k != "weighted"}
    options = {"max_iter": 6, "shuffle": False, **options, **extra}
    return MLPClassifier(hidden_layer_sizes=(7,), random_state=0, **options)


def fitted(est: Any) -> dict[str, Any]:
    return {"weights": [np.asarray(a) for a in [*est.coefs_, *est.intercepts_]],
            "loss_curve": list(est.loss_curve_), "n_iter": est.n_iter_, "t": est.t_,
            "classes": np.asarray(est.classes_),
            "validation_scores": est.validation_scores_}


def main(out: Path) -> None:
    from agnostic_mlp.distributed import MPIDataParallel

    parallel = MPIDataParallel()
    rank = parallel.rank
    X, y, w = data()
    mine = shard(rank)
    found: dict[str, Any] = {}
    warnings.simplefilter("ignore")
    for name, case in CASES.items():
        est = estimator(case, batch_size=BATCH, parallel=parallel)
        weights = w[mine] if case.get("weighted") else None
        found[name] = fitted(est.fit(X[mine], y[mine], sample_weight=weights))
    # A shard without the class 2: the classes are still every process's.
    labels = y[mine].copy()
    if rank == 1:
        labels[labels == 2] = 0
    lacking = estimator(CASES["adam, alpha"], batch_size=BATCH, parallel=parallel)
    found["lacking a class"] = fitted(lacking.fit(X[mine], labels))
    # A checkpoint across processes: 3 epochs, then the same fit to 6 resumes from the file
    # (the first process writes it; each process's own shuffled order is in it). The shards
    # differ in size, so the processes' shuffles differ.
    rows = slice(mine.start, mine.stop - 10 * rank)
    resumed = dict(solver="adam", shuffle=True)
    path = out / "estimator.ckpt"
    estimator(resumed, batch_size=BATCH, parallel=parallel, max_iter=3,
              checkpoint=path).fit(X[rows], y[rows])
    found["checkpoint, resumed"] = fitted(estimator(
        resumed, batch_size=BATCH, parallel=parallel, checkpoint=path).fit(X[rows], y[rows]))
    found["checkpoint, uninterrupted"] = fitted(estimator(
        resumed, batch_size=BATCH, parallel=parallel).fit(X[rows], y[rows]))
    with open(out / f"sklearn.{rank}.pkl", "wb") as f:
        pickle.dump(found, f)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
