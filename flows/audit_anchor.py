"""The audit trail's anchor outside its folder: the checkpoint of every intake pass, published as a Prefect
artifact (key ``audit-checkpoint``).

Whoever can write the audit folder can put all of it (trail, checkpoints, seal) back to an older copy, and
nothing inside the folder shows it; the artifacts live in Prefect's database, which the trail's writers do not
edit. ``clerk audit verify --against-prefect`` holds the trail against the latest one (runbooks/audit.md).
"""

from __future__ import annotations

import json
from typing import Any

from flows.prefect_server import PrefectUnavailable

ARTIFACT_KEY = "audit-checkpoint"


def publish_checkpoint(checkpoint: dict[str, Any]) -> None:
    """Publish a checkpoint (as ``AuditTrail.checkpoint`` returns it) as the latest ``audit-checkpoint``."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        key=ARTIFACT_KEY,
        table=[{"counter": checkpoint["counter"], "last seq": checkpoint["seq"], "head hash": checkpoint["head"],
                "file": checkpoint["file"], "signed": "yes" if checkpoint.get("hmac") else "no (no key)",
                "time": checkpoint["time"]}],
        description="Check the audit trail with: clerk audit verify --against-prefect",
    )


def latest_published_checkpoint() -> dict[str, Any] | None:
    """The latest published checkpoint as ``counter``, ``seq``, ``head``, ``time``; None when there is none.

    Raises PrefectUnavailable when the Prefect API cannot be asked, or the artifact cannot be read."""
    from prefect.artifacts import Artifact

    try:
        artifact = Artifact.get(ARTIFACT_KEY)
    except Exception as exc:  # noqa: BLE001 - httpx and Prefect raise many kinds; say which, and where to look
        raise PrefectUnavailable(f"cannot read the {ARTIFACT_KEY} artifact from Prefect ({type(exc).__name__}): "
                                 "is PREFECT_API_URL set and the server up?") from None
    if artifact is None:
        return None
    try:
        table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        row = table[0]
        return {"counter": int(row["counter"]), "seq": int(row["last seq"]), "head": str(row["head hash"]),
                "time": row.get("time")}
    except (ValueError, TypeError, KeyError, IndexError):
        raise PrefectUnavailable(f"the latest {ARTIFACT_KEY} artifact is not a checkpoint Clerk published "
                                 "(published by an older Clerk, without a counter?)") from None
