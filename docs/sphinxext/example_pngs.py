"""A Sphinx-Gallery image scraper for the PNGs the examples write to ``examples/output/``.

The examples save their figures to files and close them, as scripts do, so
matplotlib's own scraper finds no figure open: this one picks up each PNG written
or rewritten since the build started and since the last code block, and shows it
where it was made.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[2] / "examples" / "output"


class ExamplePNGs:
    """The scraper: ``ExamplePNGs()(block, block_vars, gallery_conf)`` gives the reST of
    the figures a code block wrote."""

    def __init__(self, folder: Path = OUTPUT) -> None:
        self.folder = folder
        self.seen: dict[Path, int] = {}
        self.start_ns = time.time_ns()

    def __repr__(self) -> str:  # Sphinx compares configurations by their repr
        return f"ExamplePNGs({str(self.folder)!r})"

    def __call__(self, block: Any, block_vars: dict[str, Any], gallery_conf: Any) -> str:
        from sphinx_gallery.scrapers import figure_rst

        fresh = []
        for path in sorted(self.folder.glob("*.png")):
            stamp = path.stat().st_mtime_ns
            if stamp >= self.start_ns and self.seen.get(path) != stamp:
                self.seen[path] = stamp
                fresh.append(path)
        targets = []
        for path, target in zip(fresh, block_vars["image_path_iterator"], strict=False):
            shutil.copyfile(path, target)
            targets.append(target)
        return str(figure_rst(targets, gallery_conf["src_dir"]))
