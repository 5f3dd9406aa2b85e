"""Download the intersphinx inventories the documentation links to, into docs/_intersphinx/.

    python docs/fetch_inventories.py

Run it on a machine that reaches the web; the docs build (which is offline) then
links NumPy, scikit-learn, CuPy, the Array API standard and mpi4py from these files.
"""

from __future__ import annotations

import runpy
import sys
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main() -> int:
    """Fetch each inventory named in conf.py's INVENTORIES; return the number that failed."""
    inventories = runpy.run_path(str(DOCS / "conf.py"))["INVENTORIES"]
    folder = DOCS / "_intersphinx"
    folder.mkdir(exist_ok=True)
    failed = 0
    for name, url in inventories.items():
        try:
            with urllib.request.urlopen(url + "objects.inv", timeout=30) as response:
                data = response.read()
        except OSError as error:
            print(f"{name}: {error}", file=sys.stderr)
            failed += 1
            continue
        (folder / f"{name}.inv").write_bytes(data)
        print(f"{name}: {len(data):,} bytes from {url}")
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
