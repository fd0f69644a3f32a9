"""Where the audit trail is kept (``audit.kind``), decided in one place for its writers and every reader, so that
``clerk report``, ``clerk status`` and ``clerk audit verify`` read the trail the workers write:

* ``file`` (the default): JSON lines at ``audit.path``, the days rotated beside it (connectors/audit_chain.py);
* ``postgres``: tables in the ledger's database and schema (``ledger.url``, ``ledger.schema``, the password from
  ``CLERK_LEDGER_PASSWORD``), one chain for the writers on every host (connectors/audit_postgres.py). psycopg
  is loaded only then.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.audit_chain import AuditUnavailable, find_trail, iter_events
from connectors.audit_seal import SealPolicy
from connectors.audit_verify import VerifyReport
from connectors.audit_verify import verify as verify_trail
from connectors.settings import Secrets, Settings, load_secrets

if TYPE_CHECKING:
    from connectors.audit_postgres import PostgresAudit


def target(settings: Settings, secrets: Secrets | None = None) -> Path | PostgresAudit:
    """What an :class:`~connectors.audit.AuditTrail` writes to: the trail's file, or its tables."""
    if settings.audit.kind == "file":
        return settings.audit.path
    from connectors.audit_postgres import PostgresAudit

    ledger = settings.ledger
    return PostgresAudit(ledger.url, schema=ledger.schema_name, password=(secrets or load_secrets()).ledger_password)


def events(settings: Settings, secrets: Secrets | None = None, *, missing_ok: bool = False) -> Iterator[dict[str, Any]]:
    """Every event of the configured trail, oldest first (every writer's, on every host).

    Raises AuditUnavailable when there is no trail there (unless ``missing_ok``: then there are no events), and
    AuditTrailDamaged naming a line that is not an event."""
    where = target(settings, secrets)
    return file_events(where, missing_ok=missing_ok) if isinstance(where, Path) else where.events(missing_ok=missing_ok)


def file_events(path: Path, *, missing_ok: bool = False) -> Iterator[dict[str, Any]]:
    """Every event of the trail file at ``path`` (or in the folder), across its days."""
    if not missing_ok and not find_trail(path).in_order():
        raise AuditUnavailable(f"no audit trail at {path}")
    return iter_events(path)


def verify(settings: Settings, key: bytes | None, *, previous_keys: list[bytes] | tuple[bytes, ...] = (),
           anchor: dict[str, Any] | None = None, secrets: Secrets | None = None) -> VerifyReport:
    """Verify the configured trail (connectors/audit_verify.py), judging a trail with no checkpoint by the
    settings' seal policy."""
    policy = SealPolicy(settings.audit.seal_every_events, settings.audit.seal_every_s)
    where = target(settings, secrets)
    if isinstance(where, Path):
        return verify_trail(where, key, previous_keys=previous_keys, policy=policy, anchor=anchor)
    with where.reading() as source:
        return verify_trail(source, key, previous_keys=previous_keys, policy=policy, anchor=anchor)
