"""Every error code Clerk can raise is explained in a runbook."""

import inspect
from pathlib import Path

import connectors.audit_chain as audit_chain
import connectors.errors as errors
import connectors.ledger as ledger
import flows.operations as operations
import flows.prefect_server as prefect_server

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_code_has_a_runbook_entry():
    text = "\n".join(path.read_text() for path in (ROOT / "runbooks").glob("*.md"))
    codes = {
        cls.code
        for module in (errors, ledger, prefect_server, audit_chain, operations)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, errors.ClerkError) and cls.code not in {"CLERK", "BUSINESS", "SYSTEM"}
    }
    codes |= {"FORM_MULTIPLE", "UNEXPECTED", "EXTERNAL_SENDER", "REVIEW_TIMEOUT", "REVIEW_REJECTED"}  # given at the raise site
    missing = sorted(code for code in codes if f"**{code}**" not in text)
    assert not missing, f"error codes with no runbook entry: {missing}"


def test_every_casebook_fault_knob_is_documented():
    from sandbox.casebook.config import _ENV

    text = (ROOT / "runbooks" / "getting-started.md").read_text()
    missing = sorted(name for name, _ in _ENV.values() if f"`{name}`" not in text)
    assert not missing, f"Casebook knobs missing from runbooks/getting-started.md: {missing}"


def test_every_setting_is_in_the_example_config():
    import yaml

    from connectors.settings import Settings

    example = yaml.safe_load((ROOT / "config" / "clerk.example.yaml").read_text())
    for section, model in Settings.model_fields.items():
        if section == "source":
            continue
        assert section in example, f"config/clerk.example.yaml has no '{section}'"
        fields = getattr(model.annotation, "model_fields", None)
        if fields:
            keys = {field.alias or name for name, field in fields.items()}  # as written in YAML (ledger.schema)
            missing = sorted(keys - set(example[section]))
            assert not missing, f"config/clerk.example.yaml '{section}' lacks {missing}"


def test_the_commented_exchange_examples_in_the_example_config_are_valid():
    import yaml

    from connectors.settings import Settings

    lines = (ROOT / "config" / "clerk.example.yaml").read_text().splitlines()
    blocks, current = [], None
    for line in lines:
        if line == "# mailbox:":
            current = [line[2:]]
            blocks.append(current)
        elif current is not None and line.startswith("#   "):
            current.append(line[2:].split("  #")[0])
        else:
            current = None
    kinds = [Settings.model_validate(yaml.safe_load("\n".join(block))).mailbox.kind for block in blocks]
    assert kinds == ["ews", "graph"]
