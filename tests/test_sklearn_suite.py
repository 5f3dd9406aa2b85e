"""scikit-learn's own MLP tests, on agnostic_mlp's estimators.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is
read at test time (it is not copied into this repository), its one import of
the estimators is rewritten to ``from agnostic_mlp import MLPClassifier,
MLPRegressor``, and pytest runs the result in a child process with
scikit-learn's own ``conftest`` as a plugin (its ``global_random_seed``
fixture). Every test must pass, but those listed in :data:`CANNOT_APPLY`, which
are expected to fail (strictly: one that starts passing fails this test), each
with the reason it cannot apply.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
SUITE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
ORIGINAL = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = "from agnostic_mlp import MLPClassifier, MLPRegressor"

#: Tests of scikit-learn's file that cannot apply to these estimators: node id -> why.
#: None today (scikit-learn 1.9): every one passes, ``test_gradient`` included (it calls
#: scikit-learn's private ``_loss_grad_lbfgs``, which the estimators provide, computed on
#: their backend).
CANNOT_APPLY: dict[str, str] = {}

_CONFTEST = '''
import pytest

CANNOT_APPLY = {cannot!r}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.name in CANNOT_APPLY:
            item.add_marker(pytest.mark.xfail(reason=CANNOT_APPLY[item.name], strict=True))
'''


def _swapped_suite(where: Path) -> Path:
    source = SUITE.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == ORIGINAL]
    assert len(hits) == 1, f"{SUITE} no longer imports the estimators as {ORIGINAL!r}"
    lines[hits[0]] = SWAPPED + "\n"
    swapped = "".join(lines)
    # Nothing else of scikit-learn's MLP is imported.
    assert not [line for line in swapped.splitlines()
                if "import" in line and "neural_network" in line], swapped[:2000]
    target = where / "test_mlp_swapped.py"
    target.write_text(swapped, encoding="utf-8")
    (where / "conftest.py").write_text(_CONFTEST.format(cannot=CANNOT_APPLY), encoding="utf-8")
    return target


def test_scikit_learns_mlp_tests_pass_with_the_import_swapped(tmp_path: Path) -> None:
    assert SUITE.is_file(), f"this scikit-learn ships no {SUITE}"
    suite = _swapped_suite(tmp_path)
    report = tmp_path / "report.xml"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "sklearn.conftest", f"--junitxml={report}", str(suite)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert report.is_file(), done.stdout[-4000:] + done.stderr[-4000:]
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        skipped = case.find("skipped")
        if "failure" in kinds or "error" in kinds:
            outcome = "failed"
        elif skipped is not None:
            outcome = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        outcomes[case.get("name", "")] = outcome
    # The suite itself ran, with agnostic_mlp's estimators: scikit-learn's file has ~59 tests.
    assert len(outcomes) >= 50, done.stdout[-4000:]
    assert set(CANNOT_APPLY) <= set(outcomes), "a listed test is gone: drop it from the list"
    wrong = {name: outcome for name, outcome in outcomes.items()
             if outcome != ("xfailed" if name in CANNOT_APPLY else "passed")}
    assert not wrong, f"{wrong}\n{done.stdout[-6000:]}"
    assert done.returncode == 0, done.stdout[-4000:]

