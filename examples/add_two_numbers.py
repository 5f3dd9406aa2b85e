"""The tutorial's task: a 2-5-1 network learns to add two numbers.
===================================================================

The tutorial's script, with the import changed and two things added: the
output layer is linear, and training shows a short progress display. It
prints what the network believes 0.3 + 0.1 is and, where matplotlib is
installed, draws the error per epoch and the predictions against the true
sums of 200 new pairs (``add_two_numbers.png`` in ``--out``)::

    python examples/add_two_numbers.py                      # NumPy on the CPU
    python examples/add_two_numbers.py --backend cupy       # the same on an NVIDIA GPU
    python examples/add_two_numbers.py --backend torch --device cpu
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _shared import DEFAULT_OUT

from agnostic_mlp import MLP
from agnostic_mlp.backends import to_numpy


def plot(errors: Sequence[float], sums: np.ndarray, predicted: np.ndarray, out: Path) -> Path:
    """Draw the error per epoch and the predictions against the true sums; return the PNG."""
    from _shared import pyplot, save  # matplotlib is optional for the demo

    fig, (ax_err, ax_fit) = pyplot().subplots(1, 2, figsize=(10, 4))
    ax_err.plot(np.arange(1, len(errors) + 1), errors)
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("mean squared error")
    ax_err.set_yscale("log")
    ax_err.set_title("training error")
    ax_err.grid(alpha=0.3)
    ax_fit.scatter(sums, predicted, s=8, alpha=0.6, label="network")
    ax_fit.plot([0, 1], [0, 1], color="grey", linestyle="--", label="a + b")
    ax_fit.set_xlabel("true sum a + b")
    ax_fit.set_ylabel("predicted")
    ax_fit.set_title("200 new pairs")
    ax_fit.legend()
    out.mkdir(parents=True, exist_ok=True)
    return save(fig, out / "add_two_numbers.png")


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train, show progress and a prediction; return the final metrics."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every-epoch", action="store_true",
                        help="print the error of every epoch, as the tutorial does")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the PNG, drawn where matplotlib is installed")
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
    sums = test.sum(axis=1, keepdims=True)
    predicted = to_numpy(mlp.predict(test))
    test_mse = float(np.mean((predicted - sums) ** 2))
    print(f"(the target is {target[0]}; the mean squared error on 200 new pairs is "
          f"{test_mse:.1e}; trained in {seconds:.1f} s on {mlp.backend})")
    if importlib.util.find_spec("matplotlib") is not None:
        print("wrote", plot(errors, sums[:, 0], predicted[:, 0], args.out))
    return {"final_error": errors[-1], "test_mse": test_mse, "prediction": float(output[0])}


if __name__ == "__main__":
    main()
