"""``python -m sandbox.revenues [port] [db_path]``: run Revenues in the foreground, settings from REVENUES_*."""

from __future__ import annotations

import sys
from pathlib import Path

from sandbox.revenues import RevenuesConfig, serve


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8766
    db_path = Path(argv[1]) if len(argv) > 1 else Path(".clerk/revenues.db")
    serve("127.0.0.1", port, db_path, RevenuesConfig.from_env())


if __name__ == "__main__":
    main(sys.argv[1:])
