"""How far the backends' trained models drift apart in float32: the figures in
docs/guide/backends.md ("The same seed, the same model").

    python benchmarks/agreement.py                       # numpy, torch, jax, array_api_strict
    python benchmarks/agreement.py --epochs 50 --backends numpy,torch

The same network, seed and batches on each backend; the largest difference of any
predicted probability from NumPy's after training, and each model's accuracy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from agnostic_mlp import MLP, Adam, BackendUnavailableError
from agnostic_mlp.backends import to_numpy


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """Train on each backend; return ``{backend: (max |p - p_numpy|, accuracy)}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="numpy,torch,jax,array_api_strict")
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std == 0, 1.0, std)
    probabilities: dict[str, tuple[np.ndarray, float]] = {}
    for name in ["numpy", *(b for b in args.backends.split(",") if b != "numpy")]:
        try:
            model = MLP(64, [64], 10, activation="relu", loss="categorical_cross_entropy",
                        optimizer=Adam(1e-3), seed=0, backend=name)
        except BackendUnavailableError as error:
            print(f"{name}: skipped ({error})")
            continue
        start = time.perf_counter()
        model.fit(X, y, epochs=args.epochs, batch_size=64, verbose=0)
        probabilities[name] = (to_numpy(model.predict_proba(X)), model.score(X, y))
        print(f"{name}: trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")
    reference = probabilities["numpy"][0]
    result = {}
    for name, (p, accuracy) in probabilities.items():
        result[name] = (float(np.abs(p - reference).max()), accuracy)
        print(f"{name:>18}: max |p - p_numpy| = {result[name][0]:.2g}, "
              f"training accuracy {accuracy:.4f}")
    return result


if __name__ == "__main__":
    main()
