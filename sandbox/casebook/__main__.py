"""``python -m sandbox.casebook [port] [db_path]``: run Casebook in the foreground, settings from CASEBOOK_*."""

from __future__ import annotations

import sys
from pathlib import Path

from sandbox.casebook import CasebookConfig, serve


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8090
    db_path = Path(argv[1]) if len(argv) > 1 else Path(".clerk/casebook.db")
    serve("127.0.0.1", port, db_path, CasebookConfig.from_env())


if __name__ == "__main__":
    main(sys.argv[1:])
