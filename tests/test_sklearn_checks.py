"""scikit-learn's own estimator checks, over both estimators in a few configurations.

Every expected failure is listed, with its reason, in :func:`expected_failures`.
The checks include scikit-learn's Array API checks (the estimators' tags say
``array_api_support=True``): fitting and predicting NumPy, array-api-strict and
PyTorch arrays under ``array_api_dispatch``, which needs ``SCIPY_ARRAY_API=1``
(tests/conftest.py sets it before scipy is imported). They are NumPy-based: they
run in the session that tests NumPy.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SELECTED

pytest.importorskip("sklearn")
pytest.importorskip("array_api_strict")
if "numpy" not in SELECTED:
    pytest.skip("scikit-learn's checks run with the NumPy backend's tests",
                allow_module_level=True)

from sklearn.utils.estimator_checks import parametrize_with_checks

from agnostic_mlp import MLPClassifier, MLPRegressor

ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPClassifier(solver="sgd", hidden_layer_sizes=(8, 4), activation="tanh", max_iter=100),
    MLPRegressor(max_iter=100),
    # full-batch L-BFGS
    MLPClassifier(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=100),
    MLPRegressor(solver="sgd", activation="tanh", hidden_layer_sizes=(16,),
                 learning_rate="adaptive", max_iter=100),
    # NumPy in and out, computed on another backend (array-api-strict: the strictest)
    MLPClassifier(max_iter=100, backend="array_api_strict", device="device1"),
]

_EXPLICIT_BACKEND = (
    "with an explicit backend and device, data of another namespace or device under "
    "array_api_dispatch is refused (a ValueError says so): it is computed on where it is, "
    "and these checks pass it torch and other array-api-strict devices (their NumPy and "
    "array-api-strict device1 variants pass: XPASS)")


def expected_failures(estimator: Any) -> dict[str, str]:
    """The checks expected to fail for ``estimator``, and why."""
    if estimator.backend is not None:
        return {"check_array_api_input": _EXPLICIT_BACKEND,
                "check_array_api_mixed_inputs": _EXPLICIT_BACKEND,
                "check_array_api_same_namespace": _EXPLICIT_BACKEND}
    return {}


# The configurations train few epochs: that they did not converge is expected.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
