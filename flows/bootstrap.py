"""The composition root: settings in, adapters out. The only place that decides which adapter is used.

Flows ask for :func:`current_services`; the CLI, the demo and the tests choose them with
:func:`use_services`. Code never branches on the environment: configuration picks the adapters.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from connectors import audit_store
from connectors.audit import AuditTrail
from connectors.audit_chain import hmac_keys_from_environment
from connectors.documents.forms import load_forms
from connectors.errors import ConfigError
from connectors.leases import Leases
from connectors.ledger import Ledger, SqliteLedger
from connectors.logs import configure_logging
from connectors.mail import Mailbox
from connectors.mail.local import LocalMailbox
from connectors.settings import Secrets, Settings, load_secrets, load_settings

if TYPE_CHECKING:  # the readers (pypdf, python-docx) load when Services are built, not with the CLI
    from connectors.documents.attachments import FormReader
    from connectors.documents.blue_badge import BlueBadgeApplication


class CaseSystem(Protocol):
    """What the Blue Badge flow needs from Casebook (the bot implements it; tests may pass a fake)."""

    def key_application(self, application: BlueBadgeApplication, clerk_ref: str): ...

    def close(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    mailbox: Mailbox
    ledger: Ledger
    audit: AuditTrail
    secrets: Secrets = field(default_factory=load_secrets)
    documents: FormReader | None = None
    """Reads forms from attachments through the guard and warm parser processes (built from settings)."""
    sessions: dict[str, Callable[[Services], object]] = field(default_factory=dict)
    """Builds a session of an application by name, replacing its bot (tests pass fakes)."""
    casebook_factory: Callable[[Services], CaseSystem] | None = None
    """The same for Casebook (``sessions["casebook"]``)."""
    leases: Leases | None = None
    """This worker's claims on work items (built from the ledger and ``ledger.lease_s``)."""

    def open_application(self, name: str):
        """A new session of the application (its own browser). The caller closes it, in the thread that
        opened it: Playwright's sync API belongs to one thread. Opened only when there is something to key."""
        factory = self.sessions.get(name) or (self.casebook_factory if name == "casebook" else None)
        return factory(self) if factory else _bot_session(self, name)

    def open_casebook(self) -> CaseSystem:
        return self.open_application("casebook")

    def __post_init__(self) -> None:
        if self.documents is None:
            from connectors.documents.attachments import FormReader

            self.documents = FormReader(self.settings.documents)
        if self.leases is None:
            self.leases = Leases(self.ledger, self.settings.ledger.lease_s)

    def applicant_lock(self, key: str) -> AbstractContextManager:
        """One applicant's emails are keyed one at a time by every worker (passes running at once in one
        process, and workers on other hosts sharing the ledger), so a resend never races its original.
        The ledger lends the lock: file locks on one host (SQLite), advisory locks across hosts (PostgreSQL)."""
        return self.ledger.hold(key)

    def close(self) -> None:
        self.leases.close()
        self.audit.close()
        for part in (self.ledger, self.mailbox, self.documents):
            close = getattr(part, "close", None)  # not every adapter holds a connection
            if close:
                close()


def _bot_session(services: Services, name: str):
    """A session of the application's own bot (``bots/<name>``), in a browser of its own."""
    from bots.application import load_application
    from bots.runtime import BrowserRuntime, BrowserSettings

    password = services.secrets.application_password(name).get_secret_value()
    browser = services.settings.browser
    runtime = BrowserRuntime(
        BrowserSettings(
            executable=browser.executable,
            headless=browser.headless,
            action_timeout_ms=browser.action_timeout_ms,
            navigation_timeout_ms=browser.navigation_timeout_ms,
            screenshots_dir=browser.screenshots_dir,
            trace_dir=browser.trace_dir,
            secrets=(password,),
        )
    ).start()
    try:
        bot = load_application(name).opener()(runtime, services.settings.applications[name], password)
    except BaseException:
        runtime.close()
        raise
    return _BotWithRuntime(bot, runtime)


class _BotWithRuntime:
    """The bot's operations, and its browser closed together with it."""

    def __init__(self, bot, runtime) -> None:
        self._bot = bot
        self._runtime = runtime

    def __getattr__(self, name: str):
        return getattr(self._bot, name)

    def close(self) -> None:
        try:
            self._bot.close()
        finally:
            self._runtime.close()


def build_mailbox(settings: Settings, secrets: Secrets | None = None) -> Mailbox:
    """The mailbox adapter the settings name: a local folder, on-premises Exchange (EWS) or Exchange Online."""
    mailbox = settings.mailbox
    if mailbox.kind == "local":
        return LocalMailbox(mailbox.root, mailbox.address, mailbox.poll_interval_s)
    secrets = secrets or load_secrets()
    common = {"mailbox": mailbox.address, "ca_file": str(mailbox.ca_file) if mailbox.ca_file else None,
              "folders": mailbox.folders.model_dump(), "busy_max_wait_s": mailbox.busy_max_wait_s,
              "poll_interval_s": mailbox.poll_interval_s}
    if mailbox.kind == "ews":
        from connectors.mail.ews import EwsMailbox, EwsOAuth

        ews = mailbox.ews
        oauth = EwsOAuth(client_id=ews.client_id, client_secret=secrets.mail_client_secret.get_secret_value(),
                         tenant_id=ews.tenant_id, token_url=ews.token_url) if ews.auth_type == "OAuth2" else None
        return EwsMailbox(url=ews.url, username=ews.username, password=secrets.mail_password.get_secret_value(),
                          auth_type=ews.auth_type, version=ews.version, oauth=oauth,
                          watch_mode="polling" if mailbox.watch == "polling" else "streaming", **common)
    from connectors.mail.graph import GraphMailbox

    graph = mailbox.graph
    return GraphMailbox(tenant_id=graph.tenant_id, client_id=graph.client_id,
                        client_secret=secrets.mail_client_secret.get_secret_value(),
                        authority_host=graph.authority_host, graph_url=graph.graph_url,
                        watch_mode=mailbox.watch, **common)


def build_ledger(settings: Settings, secrets: Secrets | None = None) -> Ledger:
    """The work-item ledger the settings name: a SQLite file (one host) or a shared PostgreSQL database."""
    ledger = settings.ledger
    if ledger.kind == "sqlite":
        return SqliteLedger(ledger.path, lock_timeout_s=ledger.lock_timeout_s)
    from connectors.ledger_postgres import PostgresLedger  # psycopg loads only for a PostgreSQL ledger

    secrets = secrets or load_secrets()
    return PostgresLedger(ledger.url, schema=ledger.schema_name, password=secrets.ledger_password,
                          lock_timeout_s=ledger.lock_timeout_s)


def build_audit(settings: Settings, secrets: Secrets | None = None) -> AuditTrail:
    """The audit trail the settings name: a file (``audit.path``), or tables in the ledger's PostgreSQL database
    (``audit.kind: postgres``), sealed by the settings' policy and signed with :func:`audit_key`."""
    audit = settings.audit
    return AuditTrail(audit_store.target(settings, secrets), key=audit_key(settings),
                      seal_every_events=audit.seal_every_events, seal_every_s=audit.seal_every_s)


def audit_key(settings: Settings) -> bytes | None:
    """The audit checkpoints' HMAC key: ``$CLERK_AUDIT_HMAC_KEY``, else the Prefect Secret block named in
    ``audit.hmac_key_block``, else none (checkpoints are then written unauthenticated). The writer and
    ``clerk audit verify`` both take it from here."""
    key, _ = hmac_keys_from_environment()
    if key:
        return key
    if settings.audit.hmac_key_block:
        from prefect.blocks.system import Secret

        try:
            return str(Secret.load(settings.audit.hmac_key_block).get()).encode()
        except Exception as exc:  # noqa: BLE001 - Prefect's errors vary; say which block and why
            raise ConfigError(f"cannot load the Prefect Secret block: {type(exc).__name__}",
                              file=settings.source, key="audit.hmac_key_block") from None
    return None


def bootstrap(settings: Settings | None = None, **overrides) -> Services:
    """Build every adapter from settings; ``overrides`` (mailbox=, ledger=, casebook_factory=, ...) replace one."""
    configure_logging()
    settings = settings or load_settings()
    load_forms(settings.documents.forms_dir)  # a broken form definition stops start-up, naming file and key
    from flows.registry import check_processes

    check_processes(settings)  # ... and so does a process whose flow, form or bot is missing
    parts = {
        "mailbox": overrides.pop("mailbox", None) or build_mailbox(settings, overrides.get("secrets")),
        "ledger": overrides.pop("ledger", None) or build_ledger(settings, overrides.get("secrets")),
        "audit": overrides.pop("audit", None) or build_audit(settings, overrides.get("secrets")),
    }
    return Services(settings=settings, **parts, **overrides)


_active: Services | None = None
_active_lock = threading.Lock()


@contextlib.contextmanager
def use_services(services: Services, *, close: bool = True) -> Iterator[Services]:
    """Make ``services`` the ones flows in this process use, for the duration of the block."""
    global _active
    with _active_lock:
        previous, _active = _active, services
    try:
        yield services
    finally:
        with _active_lock:
            _active = previous
        if close:
            services.close()


def current_services() -> Services:
    """The services chosen by the caller, or (for a deployment run) built from ``$CLERK_CONFIG``."""
    global _active
    with _active_lock:
        if _active is None:
            _active = bootstrap()
        return _active
