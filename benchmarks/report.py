"""Summaries of the raw times: medians, per-repeat ratios, Markdown, JSON and a chart.

Every ratio is a ratio of *time per sample* (contender / reference), taken
within one repeat, where contenders ran back to back; the report gives the
median over repeats and its range. 1.0 means as fast as the reference, 2.0
twice as slow, 0.5 twice as fast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from machine import blas_summary

__all__ = ["PYTORCH_CPU", "markdown", "plot", "summarise", "write_json"]

#: The contender every workload's second ratio is taken against.
PYTORCH_CPU = "pytorch[cpu]"
#: The tutorial's loop, which agnostic_mlp is also held to where it runs (batch 1).
TUTORIAL = "tutorial"


def _per_sample(entry: dict[str, Any]) -> list[float]:
    return [t / entry["samples"] for t in entry["times_s"]]


def _ratios(entry: dict[str, Any], ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if ref is None or not ref.get("times_s"):
        return None
    per_repeat = [a / b for a, b in zip(_per_sample(entry), _per_sample(ref), strict=True)]
    return {"per_repeat": per_repeat, "median": statistics.median(per_repeat),
            "min": min(per_repeat), "max": max(per_repeat)}


def summarise(workload: dict[str, Any]) -> None:
    """Add samples/s and ratios (to the floor, PyTorch CPU, the tutorial) to each contender.

    The entries are changed in place.
    """
    entries = workload["contenders"]
    for entry in entries.values():
        rates = [1.0 / t for t in _per_sample(entry)]
        entry["samples_per_s"] = rates
        entry["median_samples_per_s"] = statistics.median(rates)
        floor = entries.get(entry["floor"]) if entry.get("floor") else None
        entry["ratio_to_floor"] = _ratios(entry, floor)
        entry["ratio_to_pytorch_cpu"] = _ratios(entry, entries.get(PYTORCH_CPU))
        entry["ratio_to_tutorial"] = _ratios(entry, entries.get(TUTORIAL))


def _load(load: list[float] | None) -> str:
    return "?" if not load else f"{load[0]:.1f}"


def _rate(value: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def _ratio(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: a header about the machine, one table per workload."""
    machine = results["machine"]
    meta = results["meta"]
    torch = machine.get("torch") or {}
    lines = [
        "# agnostic_mlp benchmarks",
        "",
        f"- {meta['started']}, {meta['repeats']} repeats"
        f"{', --quick' if meta['quick'] else ''}, "
        f"about {meta['budget_s']:g} s per measurement; took {meta['duration_s']:.0f} s"
        f"{'; threads capped at ' + str(meta['threads']) if meta.get('threads') else ''}",
        f"- CPU: {machine['cpu_model']}, {machine['usable_cpus']} usable of "
        f"{machine['logical_cpus']} logical CPUs",
        f"- 1-min load average before/after: {_load(meta.get('load_before'))} / "
        f"{_load(meta.get('load_after'))} (anything else running skews timings)",
        f"- NumPy {machine['numpy']}; {blas_summary(machine)}",
        f"- PyTorch {torch.get('version', 'absent')} ({torch.get('threads', '?')} threads, "
        f"BLAS: {torch.get('blas') or 'unknown'})",
        "",
        "samples/s: median over repeats (range). x floor and x pytorch[cpu]: time per "
        "sample relative to that contender in the same repeat, median (range); "
        "< 1 is faster. steps: SGD steps per measurement, of an epoch's.",
        "",
    ]
    for name, wl in results["workloads"].items():
        spec = wl["spec"]
        lines += [
            f"## {name}",
            "",
            f"{'-'.join(map(str, spec['layers']))}, batch {spec['batch_size']}, "
            f"{wl['n_samples']} samples, {spec['dtype']}, bias={spec['bias']}; "
            f"1-min load average {_load(wl.get('load_before'))} → {_load(wl.get('load_after'))}",
            "",
            "| contender | samples/s | steps | x floor | floor | x pytorch[cpu] |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for cname, e in wl["contenders"].items():
            rates = e["samples_per_s"]
            steps = f"{e['steps']}/{e['epoch_steps']}"
            lines.append(
                f"| {cname} | {_rate(e['median_samples_per_s'])} "
                f"({_rate(min(rates))}-{_rate(max(rates))}) | {steps} | "
                f"{_ratio(e['ratio_to_floor'])} | {e.get('floor') or '—'} | "
                f"{_ratio(e['ratio_to_pytorch_cpu'])} |"
            )
        for cname, reason in wl.get("skipped", {}).items():
            lines.append(f"| {cname} | skipped: {reason} | | | | |")
        lines.append("")
        vs_tutorial = [f"{cname} {_ratio(e['ratio_to_tutorial'])}"
                       for cname, e in wl["contenders"].items()
                       if cname.startswith("agnostic_mlp") and e.get("ratio_to_tutorial")]
        if vs_tutorial:
            lines += ["x tutorial (time per sample relative to the tutorial's loop in the "
                      "same repeat; < 1 is faster): " + ", ".join(vs_tutorial) + ".", ""]
    memory = results.get("memory")
    if memory:
        lines += ["## Memory", "", "```", memory["summary"], "```", ""]
    if results.get("notes"):
        lines += ["## Notes", "", *(f"- {n}" for n in results["notes"]), ""]
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write everything, raw times included, as indented JSON."""
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")


#: The charts: file name and the number each bar is.
CHARTS = {"ratio_to_floor.png": "ratio_to_floor", "throughput.png": "samples_per_s"}
#: Each number's axis label, and whether a line marks 1 (the floor).
AXES = {"ratio_to_floor": ("time per sample / floor's (log scale; 1 = only the matmuls)", True),
        "samples_per_s": ("samples trained per second (log scale; right is faster)", False)}


def _bars(entry: dict[str, Any], key: str) -> dict[str, float] | None:
    """A contender's median, min and max of ``key``: a ratio, or its samples/s."""
    if key != "samples_per_s":
        return entry[key] or None
    values = entry.get("samples_per_s") or []
    if not values:
        return None
    return {"median": float(statistics.median(values)), "min": min(values), "max": max(values)}


def plot(results: dict[str, Any], path: Path, key: str = "ratio_to_floor") -> bool:
    """A PNG of each contender's median (and range over repeats), one panel per workload:
    its ratio to its floor, or its samples per second (``key``, see :data:`AXES`).

    Returns False (and writes nothing) when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        return False
    xlabel, mark_one = AXES[key]
    workloads = {n: w for n, w in results["workloads"].items()
                 if any(_bars(e, key) for e in w["contenders"].values())}
    if not workloads:
        return False
    fig, axes = plt.subplots(len(workloads), 1, figsize=(8, 1.1 + 2.1 * len(workloads)),
                             squeeze=False)
    for ax, (name, wl) in zip(axes[:, 0], workloads.items(), strict=True):
        rows = [(c, b) for c, e in wl["contenders"].items() if (b := _bars(e, key))]
        labels = [f"{c} (/{wl['contenders'][c]['floor']})" if key == "ratio_to_floor" else c
                  for c, _ in rows]
        med = [r["median"] for _, r in rows]
        err = [[m - r["min"] for m, (_, r) in zip(med, rows, strict=True)],
               [r["max"] - m for m, (_, r) in zip(med, rows, strict=True)]]
        colors = ["tab:blue" if c.startswith("agnostic_mlp") else
                  "tab:gray" if c.startswith("floor") else "tab:orange" for c, _ in rows]
        if mark_one:  # ratios: bars from the floor's 1
            ax.barh(range(len(rows)), med, xerr=err, color=colors, capsize=2)
        else:  # rates: points, as a bar's length from a log axis's edge means nothing
            for y, (m, lo, hi, color) in enumerate(zip(med, *err, colors, strict=True)):
                ax.errorbar(m, y, xerr=[[lo], [hi]], fmt="o", color=color, capsize=2)
            ax.grid(axis="x", which="both", linewidth=0.3)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _si(v)))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        for y, (m, (_, r)) in enumerate(zip(med, rows, strict=True)):
            ax.annotate(_si(m), (max(m, r["max"]), y), xytext=(3, -3),
                        textcoords="offset points", fontsize=6)
        if mark_one:
            ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(name, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _si(v: float) -> str:
    """3 significant digits, with k or M past a thousand: 0.85, 12.3k, 1.25M."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def plot_all(results: dict[str, Any], folder: Path) -> list[Path]:
    """Every chart of :data:`CHARTS` into ``folder``; the paths written (none without
    matplotlib)."""
    return [folder / name for name, key in CHARTS.items() if plot(results, folder / name, key)]


def main(argv: list[str] | None = None) -> None:
    """Command line: recompute the ratios of a folder's ``results.json``, then rewrite it,
    ``results.md`` and the chart."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path, help="a --out folder of run.py")
    folder = parser.parse_args(argv).folder
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    for workload in results["workloads"].values():
        summarise(workload)  # ratios added since the run was made
    write_json(results, folder / "results.json")
    (folder / "results.md").write_text(markdown(results), encoding="utf-8")
    if not plot_all(results, folder):
        print("matplotlib is missing: no chart", file=sys.stderr)


if __name__ == "__main__":
    main()
