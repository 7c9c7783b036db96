"""``empg-gym advantages``: list the registered advantage estimators and their hyperparameters."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from empg_gym import advantages


def main(argv: Sequence[str] | None = None) -> int:
    """List registered advantage estimators, their one-line descriptions and default hyperparameters."""
    p = argparse.ArgumentParser(prog="empg-gym advantages", description=main.__doc__)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = [
        {"name": n, "module": advantages.get(n).__module__, "description": advantages.describe(n),
         "hyperparameters": advantages.signature_defaults(n)} for n in advantages.list_estimators()]
    if args.json:
        print(json.dumps(rows, indent=2, default=repr))
        return 0
    from empg_gym._table import print_table

    print_table("advantage estimators", ("name", "description", "hyperparameters (defaults)"),
                [(r["name"], r["description"], ", ".join(f"{k}={v!r}" for k, v in r["hyperparameters"].items()))
                 for r in rows])
    return 0
