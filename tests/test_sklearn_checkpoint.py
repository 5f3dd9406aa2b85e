"""The estimators' checkpoints: ``checkpoint=path`` saves the fit after every epoch, and
running the same fit again resumes it, bit for bit on NumPy, even after ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_digits

from agnostic_mlp import MLPClassifier, MLPRegressor, ModelFileError

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
RUNS = {
    "adam": dict(),
    "adam, early stopping": dict(early_stopping=True, n_iter_no_change=4),
    "sgd, adaptive": dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=2,
                          tol=0.05),
    "sgd, invscaling, no shuffle": dict(solver="sgd", learning_rate="invscaling",
                                        shuffle=False, learning_rate_init=0.3),
}


def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:800] / 16.0, y[:800]


def assert_same(ours: Any, theirs: Any) -> None:
    for a, b in zip([*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_],
                    strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "validation_scores_",
                 "best_validation_score_", "_no_improvement_count"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours._optimizer.learning_rate == theirs._optimizer.learning_rate


@pytest.mark.parametrize("run", list(RUNS))
def test_a_fit_stopped_early_resumes_to_the_uninterrupted_run(run: str, tmp_path: Path) -> None:
    X, y = digits()
    params = dict(hidden_layer_sizes=(16,), max_iter=14, random_state=0, **RUNS[run])
    whole = MLPClassifier(**params).fit(X, y)
    path = tmp_path / "run.ckpt"
    MLPClassifier(**{**params, "max_iter": 5}, checkpoint=path).fit(X, y)
    assert_same(MLPClassifier(**params, checkpoint=path).fit(X, y), whole)
    # Run again on a finished checkpoint: nothing more to do, the same model.
    assert_same(MLPClassifier(**params, checkpoint=path).fit(X, y), whole)


CHILD = r"""
import sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from sklearn.datasets import load_digits
from agnostic_mlp import MLPClassifier
X, y = load_digits(return_X_y=True)
def said(model, epoch, logs):
    print(epoch, flush=True)
MLPClassifier(hidden_layer_sizes=(32,), max_iter=40, random_state=3, batch_size=50,
              checkpoint=sys.argv[1], callbacks=said).fit(X / 16.0, y)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_during_fit_then_the_same_fit_ends_as_the_uninterrupted_run(
        tmp_path: Path, capsys: Any) -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    path = tmp_path / "run.ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 6:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL and path.exists()
    params = dict(hidden_layer_sizes=(32,), max_iter=40, random_state=3, batch_size=50)
    resumed = MLPClassifier(**params, checkpoint=path, verbose=True).fit(X, y)
    printed = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith("Iteration")]
    first = int(printed[0].split()[1].rstrip(","))
    assert 6 <= first <= 9 and len(printed) == resumed.n_iter_ - first + 1  # only these
    assert_same(resumed, MLPClassifier(**params).fit(X, y))


def test_streamed_data_checkpoints_and_resumes(tmp_path: Path) -> None:
    from test_streaming import on_disk

    X, _ = digits()
    source = on_disk("zarr", X, tmp_path)
    params = dict(hidden_layer_sizes=(8,), max_iter=8, random_state=1, batch_size=64)
    whole = MLPRegressor(**params).fit(source, X[:, 20])
    path = tmp_path / "run.ckpt"
    MLPRegressor(**{**params, "max_iter": 3}, checkpoint=path).fit(source, X[:, 20])
    assert_same(MLPRegressor(**params, checkpoint=path).fit(source, X[:, 20]), whole)


def test_another_runs_checkpoint_is_refused_naming_what_differs(tmp_path: Path) -> None:
    X, y = digits()
    path = tmp_path / "run.ckpt"
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0, checkpoint=path).fit(X, y)
    before = path.read_bytes()
    with pytest.raises(ModelFileError, match=r"params\.alpha \(saved 0\.0001, now 0\.5\)"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0, alpha=0.5,
                      checkpoint=path).fit(X, y)
    with pytest.raises(ModelFileError, match="data"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0,
                      checkpoint=path).fit(X[::-1], y[::-1])
    with pytest.raises(ModelFileError, match="it is a checkpoint of fit"):
        MLPClassifier.load(path)
    with pytest.raises(ValueError, match="checkpoint is for fit"):
        MLPClassifier(hidden_layer_sizes=(8,), checkpoint=path).partial_fit(
            X, y, classes=np.arange(10))
    assert path.read_bytes() == before  # refused runs leave it as it was
    (tmp_path / "damaged").write_bytes(before[:-100])
    with pytest.raises(ModelFileError):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0,
                      checkpoint=tmp_path / "damaged").fit(X, y)
