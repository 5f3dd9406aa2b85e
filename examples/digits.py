"""Classify scikit-learn's 8x8 handwritten digits with a softmax MLP.
==================================================================

The 1,797 images bundled with scikit-learn (no download) are split into train
and test sets with a fixed seed and standardised with the training set's
statistics. A 64-[64]-10 ReLU network with a softmax output is trained with
Adam on categorical cross-entropy; the integer labels go straight to ``fit``.
A slice of the training set is held out for validation, and early stopping
keeps the weights of the best validation epoch::

    python examples/digits.py --backend jax --epochs 60

It prints the test accuracy and writes the loss curves (``digits_loss.png``)
and the test confusion matrix (``digits_confusion.png``) to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import parser as shared_parser
from _shared import pyplot, report_test_set, save, save_confusion

from agnostic_mlp import MLP, Adam, EarlyStopping, History, plot_history


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 100,
                           "most training epochs; early stopping may end sooner")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64],
                        help="hidden layer widths (default: 64)")
    parser.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default: 32)")
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help="Adam's learning rate (default: 0.002)")
    parser.add_argument("--patience", type=int, default=8,
                        help="epochs without validation improvement before stopping (default: 8)")
    parser.add_argument("--validation-split", type=float, default=0.15,
                        help="fraction of the training set held out for validation "
                             "(default: 0.15)")
    parser.add_argument("--test-size", type=float, default=0.25,
                        help="fraction of the images kept for the test (default: 0.25)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of the weights (default: 0)")
    return parser.parse_args(argv)


def load(test_size: float, seed: int) -> tuple[np.ndarray, ...]:
    """Standardised ``(X_train, X_test, y_train, y_test)`` as host arrays."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=test_size, random_state=seed,
        stratify=digits.target)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # corner pixels that are always blank
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test




def plot(history: History, matrix: np.ndarray, backend: str, out: Path) -> list[Path]:
    """Save the loss curves and the confusion matrix; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    ax = plot_history(history, pyplot().subplots(figsize=(6, 4))[1],
                      title=f"digits: loss per epoch ({backend})")
    loss_path = save(ax.figure, out / "digits_loss.png")

    digits = [str(d) for d in range(matrix.shape[0])]
    confusion_path = save_confusion(matrix, digits, "predicted digit", "true digit",
                                    "digits: test confusion matrix",
                                    out / "digits_confusion.png")
    return [loss_path, confusion_path]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and test on the digits; return ``test_accuracy`` and the other figures."""
    args = parse_args(argv)
    x_train, x_test, y_train, y_test = load(args.test_size, args.seed)
    print(f"digits: {len(x_train)} training and {len(x_test)} test images, "
          f"{x_train.shape[1]} pixels each")

    start = time.perf_counter()
    mlp = MLP(x_train.shape[1], args.hidden, 10, backend=args.backend, device=args.device,
              seed=args.seed, activation="relu", loss="categorical_cross_entropy",
              optimizer=Adam(learning_rate=args.learning_rate))
    print(mlp)
    history = mlp.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                      validation_split=args.validation_split,
                      early_stopping=EarlyStopping(patience=args.patience),
                      verbose=0 if args.quiet else 2)
    seconds = time.perf_counter() - start
    stopped = history.stopped_epoch is not None
    best = history.best_epoch
    print(f"trained {len(history.epoch)} epochs in {seconds:.1f} s"
          + (f"; stopped early, kept epoch {best + 1}" if stopped and best is not None else ""))

    test, matrix = report_test_set(mlp, x_test, y_test, 10)
    plots = plot(history, matrix, args.backend, args.out)
    print("wrote", ", ".join(str(p) for p in plots))
    return {"backend": args.backend, "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "epochs": len(history.epoch), "best_epoch": best,
            "val_accuracy": history["val_accuracy"][best if best is not None else -1],
            "seconds": seconds, "plots": [str(p) for p in plots]}


if __name__ == "__main__":
    main()
