"""``python -m agnostic_mlp``: the library's command line.

    python -m agnostic_mlp info          # versions, backends, devices, BLAS, MPI
    python -m agnostic_mlp info --json   # the same as JSON
    python -m agnostic_mlp --help        # the commands
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import __version__
from .info import print_info


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, one subcommand per command."""
    parser = argparse.ArgumentParser(
        prog="python -m agnostic_mlp",
        description="agnostic_mlp's command line.")
    parser.add_argument("--version", action="version", version=f"agnostic_mlp {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    info = commands.add_parser(
        "info", help="print the versions, backends, devices, BLAS and MPI of this machine "
        "(paste it into a bug report)",
        description="Print the library's version, Python, the platform, each backend "
        "(version, usable or why not, devices), NumPy's BLAS and its threads, the optional "
        "packages, mpi4py and the MPI library. It never fails: what cannot load is a line "
        "saying why.")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        print_info(as_json=args.json)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
