from pathlib import Path

import pytest

from connectors.errors import ConfigError
from connectors.settings import CONFIG_ENV, load_settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "clerk.yaml"
    path.write_text(text)
    return path


def test_embedded_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    settings = load_settings()
    assert settings.mailbox.kind == "local"
    assert "blue_badge" in settings.processes


@pytest.mark.parametrize("example", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_file_is_valid(example):
    settings = load_settings(example)
    assert settings.source == str(example)


def test_environment_variable_picks_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "casebook:\n  url: http://casebook.internal:8080/\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_settings().casebook.url == "http://casebook.internal:8080"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("casebook:\n  url: casebook.internal\n", "casebook.url", "http"),
        ("mailbox:\n  rooot: /srv/mail\n", "mailbox.rooot", "unknown key"),
        ("processes:\n  blue_badge:\n    minutes_per_item: -5\n", "processes.blue_badge.minutes_per_item", "greater"),
        ("casebook:\n  password: hunter2\n", "casebook.password", "secrets do not belong"),
        ("mailbox:\n  kind: carrier-pigeon\n", "mailbox.kind", "local"),
        ("trust:\n  partner_domains: [nhs.net]\n", "trust.authserv_ids", "boundary"),
        ("trust:\n  authserv_ids: [mx.council.gov.uk; spf]\n", "trust.authserv_ids", "not an authserv-id"),
        ("trust:\n  partner_domains: [nhs net]\n  authserv_ids: [mx.council.gov.uk]\n", "trust.partner_domains",
         "not a plain domain name"),
        ("documents:\n  parser_time_s: 90\n", "documents.parser_wall_s", "more than parser_time_s"),
        ("ledger:\n  kind: postgres\n", "ledger.url", "needs ledger.url"),
        ("ledger:\n  kind: postgres\n  url: postgres://clerk@db/clerk\n", "ledger.url", "postgresql://"),
        ("ledger:\n  kind: postgres\n  url: postgresql://clerk:hunter2@db/clerk\n", "ledger.url", "CLERK_LEDGER_PASSWORD"),
        ("ledger:\n  url: postgresql://clerk@db/clerk?password=hunter2\n", "ledger.url", "must not hold a password"),
        ("ledger:\n  schema: Clerk-Live\n", "ledger.schema", "not a plain schema name"),
        ("ledger:\n  lock_timeout_s: 0\n", "ledger.lock_timeout_s", "greater"),
        ("ledger:\n  kind: oracle\n", "ledger.kind", "sqlite"),
        ("applications:\n  casebook:\n    lanes: 0\n", "applications.casebook.lanes", "greater"),
        ("applications:\n  casebook:\n    colour: blue\n", "applications.casebook.colour", "unknown key"),
        ("applications:\n  nosuchapp:\n    url: http://x\n", "applications.nosuchapp", "no bot for 'nosuchapp'"),
        ("processes:\n  parking_permit:\n    enabled: true\n", "processes.parking_permit", "is declared"),
        ("audit:\n  kind: postgres\n", "audit.kind", "needs ledger.kind: postgres"),
        ("audit:\n  kind: postgres\nledger:\n  kind: sqlite\n", "audit.kind", "keeps the trail in the ledger's database"),
        ("audit:\n  kind: database\n", "audit.kind", "'file' or 'postgres'"),
    ],
)
def test_bad_config_names_the_file_and_the_key(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert words in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_missing_file_and_broken_yaml_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(write(tmp_path, "mailbox: [\n"))


def test_secrets_come_from_the_environment(monkeypatch):
    from connectors.settings import load_secrets

    monkeypatch.setenv("CLERK_CASEBOOK_PASSWORD", "s3cret")
    secrets = load_secrets()
    assert secrets.casebook_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(secrets)


def test_an_exchange_mailbox_needs_its_section_and_names_the_missing_key(tmp_path):
    from connectors.errors import ConfigError
    from connectors.settings import load_settings

    file = tmp_path / "clerk.yaml"
    file.write_text("mailbox:\n  kind: ews\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.key == "mailbox.ews" and str(file) in str(caught.value)
    file.write_text("mailbox:\n  kind: ews\n  ews:\n    url: https://mail.council.example.gov.uk/EWS/Exchange.asmx\n"
                    "    auth_type: OAuth2\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.key == "mailbox.ews.client_id"
    file.write_text("mailbox:\n  kind: graph\n  graph:\n    tenant_id: t\n    client_id: c\n")
    assert load_settings(file).mailbox.graph.client_id == "c"


def test_a_postgres_ledger_is_named_in_settings_and_its_password_comes_from_the_environment(tmp_path, monkeypatch):
    from connectors.settings import load_secrets

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    path = write(tmp_path, "ledger:\n  kind: postgres\n  url: postgresql://clerk@db.council.local:5432/clerk\n"
                           "  schema: clerk_live\n  lock_timeout_s: 120\n")
    ledger = load_settings(path).ledger
    assert (ledger.kind, ledger.url, ledger.schema_name, ledger.lock_timeout_s) == (
        "postgres", "postgresql://clerk@db.council.local:5432/clerk", "clerk_live", 120)
    assert (load_settings().ledger.kind, load_settings().ledger.schema_name) == ("sqlite", "clerk")
    monkeypatch.setenv("CLERK_LEDGER_PASSWORD", "s3cret")
    secrets = load_secrets()
    assert secrets.ledger_password.get_secret_value() == "s3cret" and "s3cret" not in repr(secrets)


def declare(folder, name: str, text: str):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    return folder / f"{name}.yaml"


BLUE_BADGE = (Path(__file__).resolve().parents[2] / "config" / "processes" / "blue_badge.yaml").read_text()


@pytest.mark.parametrize(("change", "key", "words"), [
    (("flow: flows.blue_badge:blue_badge", "flow: flows.no_such_process:run"), "flow", "does not exist"),
    (("flow: flows.blue_badge:blue_badge", "flow: flows.blue_badge:no_such_flow"), "flow", "does not exist"),
    (("form: blue_badge ", "form: parking_permit "), "form", "no form 'parking_permit'"),
    (("application: casebook ", "application: parking "), "application", "no bot for 'parking'"),
])
def test_check_config_refuses_a_process_whose_flow_form_or_bot_is_missing(tmp_path, change, key, words):
    from typer.testing import CliRunner

    from flows.cli import app

    assert change[0] in BLUE_BADGE
    declaration = declare(tmp_path / "processes", "blue_badge", BLUE_BADGE.replace(*change))
    config = write(tmp_path, f"processes_dir: {tmp_path / 'processes'}\n")
    result = CliRunner().invoke(app, ["check-config", "-c", str(config)])
    assert result.exit_code == 2, result.output
    output = "".join(result.output.split())  # the console wraps long lines anywhere
    assert "".join(f"file {declaration}, key '{key}'".split()) in output, output
    assert "".join(words.split()) in output, output


def test_a_declaration_without_its_form_names_the_file_and_key(tmp_path):
    declaration = declare(tmp_path / "processes", "blue_badge", BLUE_BADGE.replace("form: blue_badge ", "# no form "))
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"processes_dir: {tmp_path / 'processes'}\n"))
    assert (caught.value.file, caught.value.key) == (str(declaration), "form")


def test_an_environment_changes_only_the_keys_it_names(tmp_path):
    settings = load_settings(write(tmp_path, "processes:\n  blue_badge:\n    allowed_senders: [a@council.gov.uk]\n"))
    process = settings.processes["blue_badge"]
    assert process.allowed_senders == ["a@council.gov.uk"]
    assert (process.flow, process.minutes_per_item, process.recipients) == (
        "flows.blue_badge:blue_badge", 20, ["bluebadge@council.example.gov.uk"]), "the rest as declared"
    assert "created" in process.replies


def test_passwords_given_in_code_come_before_the_environment_and_never_show(monkeypatch):
    from connectors.settings import Secrets

    monkeypatch.setenv("CLERK_REVENUES_PASSWORD", "from-the-environment")
    monkeypatch.setenv("CLERK_FINANCE_PASSWORD", "finance-from-the-environment")
    secrets = Secrets().with_passwords(revenues="given-in-code")
    assert secrets.application_password("revenues").get_secret_value() == "given-in-code"
    assert secrets.application_password("finance").get_secret_value() == "finance-from-the-environment"
    assert "given-in-code" not in repr(secrets) and "given-in-code" not in str(secrets.model_dump())
