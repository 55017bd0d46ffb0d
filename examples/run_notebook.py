#!/usr/bin/env python
"""Execute an example notebook against a DESC TOM and store its outputs in place.

    TOM_URL=https://desc-tom.lbl.gov TOM_USERNAME=me TOM_PASSWORDFILE=~/.tom_password \\
        .venv/bin/python examples/run_notebook.py examples/classifier_true_class.ipynb

The notebook reads TOM_URL, TOM_USERNAME and TOM_PASSWORD or TOM_PASSWORDFILE
from the environment. `--output` writes elsewhere instead of in place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(notebook: Path, output: Path, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run every cell (in the notebook's directory) and write the result to `output`."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    ).execute()
    nbformat.write(nb, output)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    execute(args.notebook, args.output or args.notebook, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
