"""Clerk's configuration: YAML in ``config/``, validated by pydantic at start-up; secrets from the environment.

* Every setting has an embedded default, so ``clerk demo`` runs with no file at all.
* One environment variable, ``CLERK_CONFIG``, picks the file (or ``--config`` on the command line).
* Secrets never live in YAML: they come from ``CLERK_*`` environment variables (see :class:`Secrets`)
  and are held as ``SecretStr``. A secret key found in a config file stops start-up.
* Any missing or invalid value raises :class:`~connectors.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bots.application import ApplicationSettings, load_application, password_variable
from connectors.documents.limits import DocumentLimits
from connectors.errors import ConfigError
from connectors.processes import PROCESSES_DIR, ProcessSettings, declarations, merged

__all__ = ["ApplicationSettings", "ProcessSettings"]

CONFIG_ENV = "CLERK_CONFIG"
SECRET_KEYS = {"password", "secret", "token", "client_secret", "api_key", "hmac_key"}
_PLAIN_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")  # a host or domain name, ASCII (IDN as xn--)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # a PostgreSQL identifier that needs no quoting


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FolderNames(_Section):
    """Names of Clerk's folders in an Exchange mailbox (created beside the Inbox when missing)."""

    processing: str = "Processing"
    done: str = "Done"
    exceptions: str = "Exceptions"


class EwsSettings(_Section):
    """On-premises Exchange (Exchange Server SE / 2019 / 2016) by Exchange Web Services.

    ``version`` and ``auth_type`` are explicit so Clerk makes no autodiscover or probing requests.
    The password (NTLM, basic) comes from ``CLERK_MAIL_PASSWORD``; the OAuth2 client secret from
    ``CLERK_MAIL_CLIENT_SECRET``."""

    url: str
    """The EWS endpoint, e.g. ``https://mail.council.gov.uk/EWS/Exchange.asmx``."""
    username: str = ""
    """The service account with delegate (Full Access) rights on the shared mailbox, e.g. ``COUNCIL\\svc-clerk``."""
    auth_type: Literal["NTLM", "basic", "OAuth2"] = "NTLM"
    version: str = "Exchange2016"
    """exchangelib version name: Exchange2013, Exchange2016 (also right for 2019 and Server SE)."""
    client_id: str | None = None
    """OAuth2 only: the app registration's client id."""
    tenant_id: str | None = None
    """OAuth2 only: the tenant (or set ``token_url`` for AD FS)."""
    token_url: str | None = None

    @field_validator("url", "token_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        return value

    @model_validator(mode="after")
    def _oauth(self):
        if self.auth_type == "OAuth2" and not self.client_id:
            raise ValueError("client_id: OAuth2 needs the app registration's client id")
        if self.auth_type == "OAuth2" and not (self.tenant_id or self.token_url):
            raise ValueError("tenant_id: OAuth2 needs the tenant id (or token_url)")
        if self.auth_type != "OAuth2" and not self.username:
            raise ValueError("username: NTLM and basic need the service account's user name")
        return self


class GraphSettings(_Section):
    """Exchange Online by Microsoft Graph: an app registration with application permissions (Mail.ReadWrite,
    Mail.Send) limited to the shared mailbox. The client secret comes from ``CLERK_MAIL_CLIENT_SECRET``."""

    tenant_id: str
    client_id: str
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"


class MailboxSettings(_Section):
    kind: Literal["local", "ews", "graph"] = "local"
    """Which adapter: ``local`` (a folder of .eml files), ``ews`` (on-premises Exchange), ``graph``
    (Exchange Online). Switching is configuration alone: flows and the demo do not change."""
    root: Path = Path(".clerk/mailbox")
    """Local mailbox: one sub-folder per mail folder (inbox, processing, done, exceptions, sent)."""
    address: str = "clerk@council.example.gov.uk"
    """The shared mailbox's own address: replies are sent from it (and, for Exchange, the mailbox opened)."""
    ews: EwsSettings | None = None
    """Settings for ``kind: ews``."""
    graph: GraphSettings | None = None
    """Settings for ``kind: graph``."""
    folders: FolderNames = Field(default_factory=FolderNames)
    ca_file: Path | None = None
    """Exchange only: trust this CA bundle too (a council's internal CA). TLS is always verified."""
    busy_max_wait_s: float = Field(default=30, ge=0)
    """Exchange only: how long to honour "server busy" back-offs before leaving the email for the next pass."""
    max_batch: int = Field(default=20, ge=1)
    """An intake pass claims this many emails at a time, keys them, then claims more while the inbox has
    mail: a second worker shares a busy inbox rather than finding it all claimed by the first."""
    pass_limit_s: float = Field(default=600, gt=0)
    """An intake pass claims no new round after this long, so a scheduled run ends and the next one (on
    any worker) carries on."""
    watch: Literal["auto", "polling"] = "auto"
    """How ``clerk watch`` learns of new mail: ``auto`` uses what the server offers (EWS streaming
    subscriptions, Graph delta queries), falling back to polling; ``polling`` only polls."""
    poll_interval_s: float = Field(default=1.0, gt=0, le=3600)
    """Polling interval (the local folder always polls; Exchange only when streaming is unavailable)."""
    sweep_interval_s: float = Field(default=300, gt=0)
    """``clerk watch`` also looks at the inbox this often whatever the watcher says, as a safety net."""
    passes_at_once: int = Field(default=2, ge=1, le=8)
    """``clerk watch`` starts a new intake pass for newly arrived mail while earlier passes are still keying,
    so an acknowledgement never waits for someone else's keying. Each pass uses up to ``casebook.lanes``
    browser sessions. One applicant's emails are still keyed one at a time across passes."""

    @model_validator(mode="after")
    def _kind_has_its_section(self):
        if self.kind in ("ews", "graph") and getattr(self, self.kind) is None:
            raise ValueError(f"{self.kind}: kind '{self.kind}' needs a mailbox.{self.kind} section")
        return self


class LedgerSettings(_Section):
    """The work-item ledger: SQLite on one host (the default), PostgreSQL when workers on several hosts share a
    mailbox. The PostgreSQL password comes from ``CLERK_LEDGER_PASSWORD``, never from the URL."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Literal["sqlite", "postgres"] = "sqlite"
    """``sqlite`` (one file, workers on one host) or ``postgres`` (one database shared by every worker)."""
    path: Path = Path(".clerk/ledger.db")
    """SQLite only: the file of work items (one row per Clerk reference)."""
    url: str | None = None
    """PostgreSQL only: ``postgresql://clerk@db.council.local:5432/clerk`` (user, host, port, database; query
    parameters such as ``?sslmode=verify-full`` pass to libpq). No password here: ``CLERK_LEDGER_PASSWORD``."""
    schema_name: str = Field(default="clerk", alias="schema")
    """PostgreSQL only (key ``schema``): the schema holding Clerk's tables, created on first connect, so two
    Clerk installs (test and live, say) can share one database."""
    lock_timeout_s: float = Field(default=300, gt=0, le=3600)
    """How long keying waits for another worker to finish with the same applicant before giving up
    (LEDGER_LOCK_TIMEOUT, retried)."""
    lease_s: float = Field(default=120, ge=3, le=3600)
    """A worker holds each email it claimed by a lease it renews every third of this. When a worker stops
    (a crash, a kill), another pass takes its emails over once the lease runs out; on the same host at
    once, since a dead process is noticed. Longer survives a stalled host better; shorter recovers faster."""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("postgresql://"):
            raise ValueError("must start with postgresql:// (postgresql://user@host:5432/database)")
        parts = urlsplit(value)
        if parts.password is not None or "password" in parse_qs(parts.query):
            raise ValueError("must not hold a password: set it in the environment as CLERK_LEDGER_PASSWORD")
        return value

    @field_validator("schema_name")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not _SCHEMA_NAME.fullmatch(value) or value.startswith("pg_"):
            raise ValueError(f"'{value}' is not a plain schema name: lower-case letters, digits and _, starting "
                             f"with a letter or _, at most 63 characters, not pg_...")
        return value

    @model_validator(mode="after")
    def _postgres_needs_a_url(self):
        if self.kind == "postgres" and not self.url:
            raise ValueError("url: kind 'postgres' needs ledger.url, e.g. postgresql://clerk@db.council.local:5432/clerk")
        return self


class AuditSettings(_Section):
    kind: Literal["file", "postgres"] = "file"
    """Where the trail is kept: ``file`` (JSON lines at ``path``, writers on one host) or ``postgres`` (tables in
    the ledger's database and schema, one chain for the writers on every host; needs ``ledger.kind: postgres``)."""
    path: Path = Path(".clerk/audit/audit.jsonl")
    """File only: JSON-lines audit trail, hash-chained; older days rotate beside it (runbooks/audit.md)."""
    hmac_key_block: str | None = None
    """Name of a Prefect Secret block holding the checkpoint key, used when ``CLERK_AUDIT_HMAC_KEY`` is unset."""
    seal_every_events: int = Field(default=10_000, ge=1)
    """The trail seals itself (a signed checkpoint) at every item's end, and before more events than this would
    follow the last seal. ``clerk audit verify`` takes an unsealed tail up to this long as a crash."""
    seal_every_s: float = Field(default=60.0, gt=0)
    """...and before an event this many seconds or more after the first unsealed one (verify likewise)."""


class BrowserOptions(_Section):
    executable: str | None = None
    """Browser binary. Unset: $CLERK_BROWSER, then chromium on PATH."""
    headless: bool = True
    action_timeout_ms: int = Field(default=10_000, ge=100)
    navigation_timeout_ms: int = Field(default=15_000, ge=100)
    screenshots_dir: Path | None = Path(".clerk/screenshots")
    """Masked screenshots of the page when a bot step fails."""
    trace_dir: Path | None = None
    """Playwright traces of each bot session, for diagnosing a bot (off by default). What was typed,
    network bodies, personal data and the application's password are scrubbed before they are written."""


class DocumentSettings(DocumentLimits):
    """How attachments are read: limits, the guarded parser processes, and where form definitions live."""

    read_retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts at reading an email's form after a fault of Clerk's own (a parser process that died
    or stalled on a busy machine); a file refused for what it is, is never retried."""
    read_retry_delay_s: float = Field(default=2.0, ge=0)
    """The pause before the first extra attempt; it doubles for each one after."""

    forms_dir: Path = Path(__file__).resolve().parents[1] / "config" / "forms"
    """Form definitions (YAML): how each form's labels and fields map to its process's model."""
    ocr: Literal["auto", "off"] = "auto"
    """``auto`` reads scans with Tesseract when it is installed (every value then waits for a supervisor);
    ``off`` answers scans with ATTACHMENT_SCANNED."""


class ReviewSettings(_Section):
    """Items a process should not decide alone wait for a supervisor (Prefect pause with a typed form)."""

    poll_interval_s: int = Field(default=1, ge=1, le=60)
    """How often a waiting run checks for the answer (Prefect's default is 10 s)."""
    remind_after_s: float = Field(default=3600, gt=0)
    """Email the supervisors when an item has waited this long."""
    timeout_s: int = Field(default=8 * 3600, ge=1)
    """Stop waiting after this long: the item goes to Exceptions (REVIEW_TIMEOUT), to be retried."""
    supervisors: list[str] = Field(default_factory=lambda: ["supervisors@council.example.gov.uk"])
    """Who is reminded about waiting items."""


class TrustSettings(_Section):
    """Which emails Clerk believes come from who they say. Only a trusted sender can trigger a process or
    get a reply, so a spoofed or outside address can never use Clerk to send mail (no backscatter)."""

    require_internal_header: bool = True
    """A council sender counts only when Exchange marked the message internal
    (``X-MS-Exchange-Organization-AuthAs: Internal``; Exchange strips that header from mail arriving
    from outside). Turn off only for a mailbox no outsider can write to."""
    partner_domains: list[str] = Field(default_factory=list)
    """Partner organisations' domains (``nhs.net``) trusted when the council's own mail boundary recorded
    ``dmarc=pass`` for the sender's domain (see ``authserv_ids``). They still need to be on a process's
    allow-list."""
    authserv_ids: list[str] = Field(default_factory=list)
    """The authserv-id of the council's mail boundary: the host name its ``Authentication-Results`` header
    starts with (``mx.council.gov.uk; spf=pass ...``). Only the topmost ``Authentication-Results`` header
    is read, and only if it starts with one of these; headers further down were written by whoever sent
    the mail. Needed for ``partner_domains``."""

    @field_validator("partner_domains")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        domains = [value.strip().lower().lstrip("@") for value in values]
        for domain in domains:
            if not _PLAIN_NAME.fullmatch(domain) or "." not in domain:
                raise ValueError(f"'{domain}' is not a plain domain name (write an international domain in its "
                                 f"xn-- form)")
        return domains

    @field_validator("authserv_ids")
    @classmethod
    def _authserv_ids(cls, values: list[str]) -> list[str]:
        ids = [value.strip().lower() for value in values]
        for authserv_id in ids:
            if not _PLAIN_NAME.fullmatch(authserv_id):
                raise ValueError(f"'{authserv_id}' is not an authserv-id: give the host name the council's mail "
                                 f"boundary writes at the start of its Authentication-Results header, e.g. "
                                 f"mx.council.gov.uk")
        return ids

    @model_validator(mode="after")
    def _partners_need_the_boundary(self):
        if self.partner_domains and not self.authserv_ids:
            raise ValueError("authserv_ids: partner_domains are trusted only on the Authentication-Results header "
                             "of the council's own mail boundary; name its authserv-id here")
        return self


class Settings(_Section):
    council_domains: list[str] = Field(default_factory=lambda: ["council.example.gov.uk"])
    """The council's own mail domains."""
    trust: TrustSettings = Field(default_factory=TrustSettings)
    mailbox: MailboxSettings = Field(default_factory=MailboxSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    browser: BrowserOptions = Field(default_factory=BrowserOptions)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    processes_dir: Path = PROCESSES_DIR
    """Where the process declarations are (``config/processes/<name>.yaml``, runbooks/new-process.md)."""
    processes: dict[str, ProcessSettings] = Field(default_factory=dict)
    """Each declared process, with this environment's changes: an entry here changes only the keys it
    names (``enabled``, ``allowed_senders``, ``recipients``, ...); a process must be declared first."""
    applications: dict[str, SerializeAsAny[ApplicationSettings]] = Field(default_factory=dict)
    """Each legacy application's settings (``applications.casebook.url``, ...), validated by its bot
    (``bots/<name>/application.py``); every application an enabled process uses gets its defaults."""

    source: str = Field(default="embedded defaults", exclude=True)
    """Where these settings came from (for messages), not a setting."""

    @model_validator(mode="before")
    @classmethod
    def _declared(cls, data: Any) -> Any:
        """Fill in the declared processes and the applications they use (ConfigError names the key)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        applications = dict(data.get("applications") or {})
        written_as = {name: ("applications", name) for name in applications}
        if "casebook" in data:  # the name of Casebook's section before there were other applications
            if "casebook" in applications:
                raise ConfigError("give Casebook's settings once, under applications.casebook", key="casebook")
            applications["casebook"], written_as["casebook"] = data.pop("casebook"), ("casebook",)
        data["processes"] = merged(declarations(Path(data.get("processes_dir") or PROCESSES_DIR)),
                                   data.get("processes") or {})
        directory = Path(data.get("processes_dir") or PROCESSES_DIR)
        used = {process["application"]: directory / f"{name}.yaml"
                for name, process in data["processes"].items() if process.get("enabled", True)}
        for name in sorted(set(applications) | set(used)):
            where = written_as.get(name, ("applications", name))
            try:
                model = load_application(name).settings
            except ConfigError as exc:
                if name in applications:
                    raise ConfigError(exc.detail, key=_key(where)) from None
                raise ConfigError(exc.detail, file=str(used[name]), key="application") from None
            given = applications.get(name) or {}
            if isinstance(given, model):
                continue
            if isinstance(given, BaseModel):
                given = given.model_dump(exclude_unset=True)
            try:
                applications[name] = model.model_validate(given)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
                raise ConfigError(message.removeprefix("Value error, "), key=_key((*where, *first["loc"]))) from None
        data["applications"] = applications
        return data

    @property
    def casebook(self) -> ApplicationSettings:
        """``applications.casebook`` (Blue Badge's application)."""
        return self.applications["casebook"]

    @casebook.setter
    def casebook(self, value: ApplicationSettings) -> None:
        self.applications["casebook"] = value

    def application(self, name: str) -> ApplicationSettings:
        return self.applications[name]

    @model_validator(mode="after")
    def _postgres_audit_needs_the_postgres_ledger(self):
        if self.audit.kind == "postgres" and self.ledger.kind != "postgres":
            raise ValueError("audit.kind: kind 'postgres' keeps the trail in the ledger's database, so it needs "
                             "ledger.kind: postgres (and ledger.url)")
        return self


class Secrets(BaseSettings):
    """Secrets, read only from the environment (``CLERK_CASEBOOK_PASSWORD`` and so on)."""

    model_config = SettingsConfigDict(env_prefix="CLERK_", extra="ignore")

    casebook_password: SecretStr = SecretStr("")
    mail_password: SecretStr = SecretStr("")
    """``CLERK_MAIL_PASSWORD``: the Exchange service account's password (EWS, NTLM or basic)."""
    mail_client_secret: SecretStr = SecretStr("")
    """``CLERK_MAIL_CLIENT_SECRET``: the app registration's secret (Graph, or EWS with OAuth2)."""
    ledger_password: SecretStr = SecretStr("")
    """``CLERK_LEDGER_PASSWORD``: the PostgreSQL ledger role's password (``ledger.kind: postgres``)."""
    _given: dict[str, SecretStr] = PrivateAttr(default_factory=dict)

    def with_passwords(self, **passwords: str) -> Secrets:
        """Applications' passwords given in code (the demo, tests): ``Secrets().with_passwords(revenues=...)``.
        A deployment sets ``CLERK_<NAME>_PASSWORD`` instead."""
        self._given.update({name: SecretStr(password) for name, password in passwords.items()})
        return self

    def application_password(self, name: str) -> SecretStr:
        """The password of Clerk's account in an application: given in code, else ``$CLERK_<NAME>_PASSWORD``."""
        for given in (self._given.get(name), getattr(self, f"{name}_password", None)):
            if isinstance(given, SecretStr) and given.get_secret_value():
                return given
        return SecretStr(os.environ.get(password_variable(name), ""))


def _find_secret_keys(data: object, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).lower() in SECRET_KEYS:
                found.append(where)
            found.extend(_find_secret_keys(value, where))
    return found


def _key(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_settings(path: str | Path | None = None) -> Settings:
    """Load settings from ``path``, else ``$CLERK_CONFIG``, else the embedded defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return Settings()
    file = Path(chosen)
    if not file.is_file():
        hint = f" (named by ${CONFIG_ENV})" if not path else ""
        raise ConfigError(f"the config file does not exist{hint}", file=str(file))
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(file)) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of sections (mailbox:, applications:, ...)", file=str(file))
    secrets = _find_secret_keys(data)
    if secrets:
        raise ConfigError(
            "secrets do not belong in config files; set them in the environment (e.g. CLERK_CASEBOOK_PASSWORD)",
            file=str(file),
            key=secrets[0],
        )
    try:
        settings = Settings.model_validate(data)
    except ConfigError as exc:  # a declared process or an application's settings: name this file too
        if exc.file:
            raise
        raise ConfigError(exc.detail, file=str(file), key=exc.key) from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        more = len(exc.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        loc = tuple(first["loc"])
        named = re.match(r"^([\w.]+): (.+)$", message) if first["type"] == "value_error" else None
        if named:  # a rule across a section's keys names the key it is about
            loc, message = (*loc, named.group(1)), named.group(2)
        raise ConfigError(f"{message}{extra}", file=str(file), key=_key(loc)) from None
    return settings.model_copy(update={"source": str(file)})


def load_secrets() -> Secrets:
    return Secrets()
