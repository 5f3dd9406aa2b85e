"""A scikit-learn pipeline and grid search around agnostic_mlp's MLPClassifier, on digits.
=======================================================================================

``agnostic_mlp.MLPClassifier`` is scikit-learn's ``MLPClassifier`` (same
parameters, same results for the same ``random_state``) with a ``backend``:
the pipeline below is plain scikit-learn on NumPy data, and ``--backend``
moves the network's training and predictions to PyTorch, JAX or CuPy without
changing anything else::

    python examples/sklearn_pipeline.py --backend torch --jobs 2

A ``StandardScaler`` feeds the classifier; ``GridSearchCV`` picks ``alpha`` and
the hidden layer's width by 3-fold cross-validation (``--jobs`` worker
processes: the estimators are pickled to them and back). The best pipeline is
scored on a held-out test set; its loss curve (``sklearn_loss.png``) and the
test confusion matrix (``sklearn_confusion.png``) go to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import confusion, pyplot, save, save_confusion
from _shared import parser as shared_parser

from agnostic_mlp import MLPClassifier, plot_history


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 60,
                           "most epochs per fit (max_iter); a fit may stop sooner")
    parser.add_argument("--jobs", type=int, default=1,
                        help="GridSearchCV's worker processes (default: 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of the networks (default: 0)")
    return parser.parse_args(argv)


def plot(mlp: MLPClassifier, matrix: np.ndarray, backend: str, out: Path) -> list[Path]:
    """Save the best model's loss curve and the confusion matrix; return the paths."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_history(mlp, ax, title=f"best pipeline's MLPClassifier ({backend}): log-loss + L2")
    paths = [save(fig, out / "sklearn_loss.png")]
    paths.append(save_confusion(matrix, [str(d) for d in range(10)], "predicted digit",
                                "true digit", "test set", out / "sklearn_confusion.png"))
    return paths


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=args.seed, stratify=y)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(
        learning_rate_init=0.01, max_iter=args.epochs, early_stopping=True,
        random_state=args.seed, backend=args.backend, device=args.device))
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2],
            "mlpclassifier__hidden_layer_sizes": [(32,), (64,)]}
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=args.jobs,
                          verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    best = search.best_estimator_
    mlp = best[-1]
    predicted = best.predict(X_test)  # NumPy labels, whatever the backend
    accuracy = float(np.mean(predicted == y_test))
    print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.2%}")
    print(f"test accuracy: {accuracy:.2%} after {mlp.n_iter_} epochs "
          f"({mlp._placement.runtime.name}; the search took {seconds:.1f} s)")
    paths = plot(mlp, confusion(y_test, predicted, 10), args.backend, args.out)
    return {"test_accuracy": accuracy, "best_params": search.best_params_,
            "cv_accuracy": float(search.best_score_), "epochs": mlp.n_iter_,
            "backend": mlp._placement.runtime.name, "plots": paths}


if __name__ == "__main__":
    main()
