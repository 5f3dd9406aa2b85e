"""The tutorial's task: a 2-5-1 sigmoid network learns to add two numbers.

    python examples/add_two_numbers.py                      # NumPy on the CPU
    python examples/add_two_numbers.py --backend cupy       # the same on an NVIDIA GPU
    python examples/add_two_numbers.py --backend torch --device cpu
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from agnostic_mlp import MLP
from agnostic_mlp.backends import to_numpy


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train, print progress and a prediction; return the final metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    # The tutorial's data: pairs in [0, 0.5) and their sums.
    rng = np.random.default_rng(args.seed)
    items = rng.random((args.samples, 2)) / 2
    targets = items.sum(axis=1, keepdims=True)

    mlp = MLP(2, [5], 1, backend=args.backend, device=args.device, seed=args.seed)
    print(f"Training {mlp!r} on {args.samples} samples")
    start = time.perf_counter()
    errors = mlp.train(items, targets, args.epochs, args.learning_rate,
                       batch_size=args.batch_size)
    seconds = time.perf_counter() - start

    test = rng.random((200, 2)) / 2
    test_mse = float(np.mean((to_numpy(mlp.predict(test)) - test.sum(axis=1, keepdims=True)) ** 2))
    x = np.array([0.3, 0.1])
    output = to_numpy(mlp.forward_propagate(x))
    print()
    print(f"Our network believes that {x[0]} + {x[1]} is equal to {output[0]:.4f}")
    print(f"Test MSE on 200 new pairs: {test_mse:.2e}; trained in {seconds:.1f} s")
    return {"final_error": errors[-1], "test_mse": test_mse, "prediction": float(output[0])}


if __name__ == "__main__":
    main()
