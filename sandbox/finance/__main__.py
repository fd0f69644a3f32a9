"""``python -m sandbox.finance [port] [db_path]``: run Finance in the foreground, settings from FINANCE_*."""

from __future__ import annotations

import sys
from pathlib import Path

from sandbox.finance import FinanceConfig, serve


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8767
    db_path = Path(argv[1]) if len(argv) > 1 else Path(".clerk/finance.db")
    serve("127.0.0.1", port, db_path, FinanceConfig.from_env())


if __name__ == "__main__":
    main(sys.argv[1:])
