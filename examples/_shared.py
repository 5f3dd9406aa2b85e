"""What the examples share: their common command-line flags, figure saving and the
confusion-matrix plot (loss curves are agnostic_mlp.plot_history's).

Not an example itself: `python examples/NAME.py` finds it beside the script.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = Path(__file__).resolve().parent
DEFAULT_OUT = EXAMPLES / "output"


def quick() -> bool:
    """Whether to run small: ``AGNOSTIC_MLP_EXAMPLES_QUICK=1``, which the docs' gallery sets
    so that its build stays short (the long examples take smaller data by default)."""
    return os.environ.get("AGNOSTIC_MLP_EXAMPLES_QUICK", "") not in ("", "0")


def parser(doc: str | None, epochs: int, epochs_help: str) -> argparse.ArgumentParser:
    """A parser with ``--backend``, ``--device``, ``--epochs``, ``--out`` and ``--quiet``,
    described by the first line of the example's docstring ``doc``.

    ``doc`` may be empty: the docs' gallery runs an example with an empty ``__doc__``."""
    p = argparse.ArgumentParser(description=(doc or "").partition("\n")[0])
    p.add_argument("--backend", default="numpy",
                   help="numpy, array_api_strict, torch, jax or cupy (default: numpy)")
    p.add_argument("--device", default=None,
                   help="a device of the backend, e.g. cpu, cuda:0 (default: its default)")
    p.add_argument("--epochs", type=int, default=epochs,
                   help=f"{epochs_help} (default: {epochs})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for the PNGs (default: examples/output/)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    return p


def report_test_set(
    mlp: Any, x: Any, labels: np.ndarray, n_classes: int
) -> tuple[dict[str, float], np.ndarray]:
    """Evaluate a trained classifier on test data, print its accuracy and loss; return
    ``evaluate``'s metrics and the confusion matrix."""
    from agnostic_mlp.backends import to_numpy

    metrics = mlp.evaluate(x, labels)
    predicted = to_numpy(mlp.predict_classes(x)).astype(np.int64)
    print(f"test accuracy: {metrics['accuracy']:.2%}  test loss: {metrics['loss']:.4f}  "
          f"({mlp.backend})")
    return metrics, confusion(labels, predicted, n_classes)


def pyplot() -> Any:
    """``matplotlib.pyplot``, drawing to files only (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> Path:
    """Lay ``fig`` out, write it as a PNG at ``path``, close it; return ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    pyplot().close(fig)
    return path


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``[true class, predicted class]``."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def save_confusion(matrix: np.ndarray, labels: Sequence[str], xlabel: str, ylabel: str,
                   title: str, path: Path) -> Path:
    """Draw ``matrix`` with its counts and save it as a PNG at ``path``."""
    n = len(labels)
    fig, ax = pyplot().subplots(figsize=(5, 4.5))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(n), labels, rotation=30 if max(map(len, labels)) > 2 else 0)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return save(fig, path)
