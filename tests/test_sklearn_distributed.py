"""The estimators across processes: ``mpiexec -n 2``, against one process on the global
batches (each process's batch in rank order), to 1e-12 in float64."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_distributed import launch, load_worker

pytest.importorskip("sklearn")
pytest.importorskip("mpi4py", reason="MPI is not installed here; pip install mpi4py mpich")

WORKER = Path(__file__).resolve().parent / "mpi" / "sklearn_worker.py"


def worker() -> Any:
    return load_worker(WORKER, "sklearn_worker")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("sklearn_mpi")
    result = launch(str(out), script=WORKER)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    found = []
    for rank in (0, 1):
        with open(out / f"sklearn.{rank}.pkl", "rb") as f:
            found.append(pickle.load(f))  # written by our own worker
    return found


def test_two_processes_train_one_processs_model_on_the_global_batches(
        runs: list[dict[str, Any]]) -> None:
    w = worker()
    X, y, weights = w.data()
    for name, case in w.CASES.items():
        if case.get("early_stopping"):
            continue  # each process holds out its own rows: no one-process twin
        Xg, yg, wg = w.interleaved(X, y, weights)
        one = w.estimator(case, batch_size=2 * w.BATCH).fit(
            Xg, yg, sample_weight=wg if case.get("weighted") else None)
        want = w.fitted(one)
        for rank, found in enumerate(runs):
            got = found[name]
            for a, b in zip(got["weights"], want["weights"], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"{name} {rank}")
            np.testing.assert_allclose(got["loss_curve"], want["loss_curve"], rtol=1e-12)
            assert got["n_iter"] == want["n_iter"] and got["t"] == want["t"] == 6 * 2 * w.ROWS


def test_early_stopping_decides_alike_on_every_process(runs: list[dict[str, Any]]) -> None:
    first, second = (found["adam, early stopping"] for found in runs)
    assert first["n_iter"] == second["n_iter"]
    assert first["validation_scores"] == second["validation_scores"]
    for a, b in zip(first["weights"], second["weights"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_classes_are_every_processs_labels(runs: list[dict[str, Any]]) -> None:
    for found in runs:
        np.testing.assert_array_equal(found["lacking a class"]["classes"], [0, 1, 2])
    first, second = (found["lacking a class"] for found in runs)
    for a, b in zip(first["weights"], second["weights"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_resumes_every_process_bit_for_bit(runs: list[dict[str, Any]]) -> None:
    """3 epochs saved, then the same fit to 6 resumed from the file, on two processes whose
    shards (and so shuffles) differ: the uninterrupted two-process run's model, exactly."""
    for found in runs:
        resumed, whole = found["checkpoint, resumed"], found["checkpoint, uninterrupted"]
        assert resumed["n_iter"] == whole["n_iter"] == 6
        assert resumed["loss_curve"] == whole["loss_curve"] and resumed["t"] == whole["t"]
        for a, b in zip(resumed["weights"], whole["weights"], strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(runs[0]["checkpoint, resumed"]["weights"],
                    runs[1]["checkpoint, resumed"]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
