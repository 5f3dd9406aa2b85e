"""The tutorial's task: a 2-5-1 network learns to add two numbers.

The tutorial's script, with the import changed and two things added: the output
layer is linear, and training shows a short progress display.

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
    """Train, show progress and a prediction; return the final metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every-epoch", action="store_true",
                        help="print the error of every epoch, as the tutorial does")
    args = parser.parse_args(argv)

    # create a dataset to train a network for the sum operation
    # (the tutorial's: pairs in [0, 0.5) and their sums; drawn from a seed, to repeat)
    rng = np.random.default_rng(args.seed)
    items = rng.random((1000, 2)) / 2
    targets = items.sum(axis=1, keepdims=True)

    # create a Multilayer Perceptron with one hidden layer. A sum is no probability:
    # its output is linear ("identity"), not the tutorial's sigmoid, which must reach
    # far into its tails for sums near 0 and 1 and gets 0.3 + 0.1 wrong by about 0.01.
    mlp = MLP(2, [5], 1, output_activation="identity",
              backend=args.backend, device=args.device, seed=args.seed)

    # train network
    start = time.perf_counter()
    errors = mlp.train(items, targets, args.epochs, args.learning_rate,
                       verbose=True if args.every_epoch else "progress")
    seconds = time.perf_counter() - start

    # create dummy data
    input = np.array([0.3, 0.1])
    target = np.array([0.4])

    # get a prediction
    output = to_numpy(mlp.forward_propagate(input))

    print()
    print(f"Our network believes that {input[0]} + {input[1]} is equal to {output[0]:.2f}")

    test = rng.random((200, 2)) / 2
    test_mse = float(np.mean((to_numpy(mlp.predict(test)) - test.sum(axis=1, keepdims=True))
                             ** 2))
    print(f"(the target is {target[0]}; the mean squared error on 200 new pairs is "
          f"{test_mse:.1e}; trained in {seconds:.1f} s on {mlp.backend})")
    return {"final_error": errors[-1], "test_mse": test_mse, "prediction": float(output[0])}


if __name__ == "__main__":
    main()
