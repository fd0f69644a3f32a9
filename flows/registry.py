"""The processes Clerk runs, found from their declarations (config/processes/*.yaml) and checked.

Intake asks :func:`process_flow` for the flow of the process an email was routed to. :func:`check_processes`
runs at start-up (``bootstrap``) and in ``clerk check-config``: a declared, enabled process whose flow,
form or bot is missing stops Clerk before it claims any mail, naming the declaration and the key.
"""

from __future__ import annotations

import importlib
from typing import Any

from bots.application import load_application
from connectors.errors import ConfigError
from connectors.settings import Settings


def _where(settings: Settings, name: str) -> str:
    return str(settings.processes_dir / f"{name}.yaml")


def process_flow(settings: Settings, name: str) -> Any:
    """The Prefect flow of process ``name`` (``flow: module:flow`` in its declaration)."""
    target = settings.processes[name].flow
    module, _, attribute = target.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute, None)
    except ModuleNotFoundError as exc:
        if not module.startswith(exc.name or "\0"):
            raise
        found = None
    if found is None or not callable(found):
        raise ConfigError(f"the flow '{target}' does not exist (no module {module} with a flow {attribute})",
                          file=_where(settings, name), key="flow")
    return found


def check_processes(settings: Settings) -> list[str]:
    """Every enabled process's flow, form and bot exist; returns their names."""
    from connectors.documents.forms import load_forms

    forms = load_forms(settings.documents.forms_dir)
    enabled = [name for name, process in settings.processes.items() if process.enabled]
    for name in enabled:
        process = settings.processes[name]
        process_flow(settings, name)
        if process.form not in forms:
            raise ConfigError(f"no form '{process.form}' in {settings.documents.forms_dir} "
                              f"(known: {', '.join(forms) or 'none'})", file=_where(settings, name), key="form")
        try:
            load_application(process.application)
        except ConfigError as exc:
            raise ConfigError(exc.detail, file=_where(settings, name), key="application") from None
    return enabled
