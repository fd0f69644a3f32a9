"""``clerk new bot APP`` and ``clerk new process NAME --app APP``: a working skeleton that passes its own tests.

A Continuous Improvement engineer starts a new legacy application's bot, and a new process on it, from
files that already work together; they then change each to the real thing (runbooks/new-process.md).
Nothing outside the new bot's and process's own folders and config is touched, and nothing is ever
overwritten.

``new bot APP`` writes ``bots/APP/`` (``application.py``, ``bot.py``: a :class:`bots.transaction.TransactionBot`,
``pages/screens.py``: page objects), ``sandbox/APP/`` (a stub of the application on the sandbox kit, for the
bot's tests) and ``tests/apps/APP/test_bot.py`` (the bot against the stub, in real Chromium).

``new process NAME --app APP`` writes ``config/processes/NAME.yaml`` (the declaration), ``config/forms/NAME.yaml``
(the form), ``flows/NAME.py`` (the record, its checks, the :class:`flows.process.Process` and its flow),
``runbooks/NAME.md`` and ``tests/processes/NAME/test_NAME.py`` (the form read from a Word file, and an email
carrying it keyed once through the mail intake into the stub application).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from connectors.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
SCAFFOLD_MARK = "made by `clerk new bot"

BOT_FILES = {
    "bot/__init__.py.tmpl": "bots/{app}/__init__.py",
    "bot/application.py.tmpl": "bots/{app}/application.py",
    "bot/bot.py.tmpl": "bots/{app}/bot.py",
    "bot/pages___init__.py.tmpl": "bots/{app}/pages/__init__.py",
    "bot/pages_screens.py.tmpl": "bots/{app}/pages/screens.py",
    "bot/sandbox___init__.py.tmpl": "sandbox/{app}/__init__.py",
    "bot/sandbox_server.py.tmpl": "sandbox/{app}/server.py",
    "bot/test_bot.py.tmpl": "tests/apps/{app}/test_bot.py",
}
PROCESS_FILES = {
    "process/declaration.yaml.tmpl": "config/processes/{name}.yaml",
    "process/form.yaml.tmpl": "config/forms/{name}.yaml",
    "process/flow.py.tmpl": "flows/{name}.py",
    "process/runbook.md.tmpl": "runbooks/{runbook}.md",
    "process/test_process.py.tmpl": "tests/processes/{name}/test_{name}.py",
}
PACKAGES = {"tests/apps/{app}": "tests/apps", "tests/processes/{name}": "tests/processes"}


@dataclass(frozen=True)
class Made:
    """What a ``clerk new`` command wrote (paths relative to the repository)."""

    files: list[Path]
    next_steps: list[str]


def _words(name: str) -> str:
    return name.replace("_", " ")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _check_name(kind: str, name: str) -> None:
    if not NAME.match(name):
        raise ConfigError(f"'{name}' is not a {kind} name: use 2-31 lower-case letters, digits and _, "
                          "starting with a letter (it names a Python package and a settings key)")


def _write(root: Path, plan: dict[str, str], values: dict[str, str], packages: list[str]) -> list[Path]:
    targets = {template: Path(target.format(**values)) for template, target in plan.items()}
    inits = [Path(folder.format(**values)) / "__init__.py" for folder in packages]
    taken = [str(path) for path in targets.values() if (root / path).exists()]
    if taken:
        raise ConfigError(f"{taken[0]} exists already: `clerk new` never overwrites a file")
    written = []
    for template, target in targets.items():
        text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        (root / target).write_text(text, encoding="utf-8")
        written.append(target)
    for init in inits:  # test folders are packages (their module names must not collide)
        if not (root / init).exists():
            (root / init).parent.mkdir(parents=True, exist_ok=True)
            (root / init).write_text("", encoding="utf-8")
            written.append(init)
    return written


def new_bot(app: str, *, root: Path = ROOT, port: int = 8800, title: str | None = None) -> Made:
    """A bot for the application ``app`` and a stub of the application for its tests."""
    _check_name("bot", app)
    if (root / "bots" / app).exists():
        raise ConfigError(f"bots/{app} exists already: `clerk new` never overwrites a file")
    values = {"app": app, "App": _camel(app), "APP": app.upper(), "app_title": title or _words(app).title(),
              "port": str(port)}
    files = _write(root, BOT_FILES, values, [PACKAGES["tests/apps/{app}"], "tests/apps/{app}"])
    return Made(files, [
        f"run its tests: .venv/bin/python -m pytest tests/apps/{app}",
        f"serve the stub: .venv/bin/python -c \"from sandbox.{app} import {values['App']}Server; ...\"",
        f"record the real application's screens: clerk record URL --app {app}",
        f"then a process on it: clerk new process NAME --app {app}",
    ])


def new_process(name: str, app: str, *, root: Path = ROOT, title: str | None = None) -> Made:
    """A process keying into ``app`` (whose bot must exist: ``clerk new bot`` first for a new application)."""
    _check_name("process", name)
    if not (root / "bots" / app / "application.py").is_file():
        raise ConfigError(f"there is no bot for '{app}' (bots/{app}/application.py): make one with "
                          f"`clerk new bot {app}` first")
    stub = root / "sandbox" / app / "server.py"
    if not stub.is_file() or SCAFFOLD_MARK not in (root / "sandbox" / app / "__init__.py").read_text():
        raise ConfigError(f"'{app}' was not made by `clerk new bot`: the process's tests key into a stub of the "
                          f"application (sandbox/{app}/). Make the process on a new bot, or write its tests by "
                          "hand as the Blue Badge process's are (runbooks/new-process.md)")
    if (root / "config" / "processes" / f"{name}.yaml").exists() or (root / "flows" / f"{name}.py").exists():
        raise ConfigError(f"a process '{name}' exists already: `clerk new` never overwrites a file")
    title = title or _words(name).capitalize()
    values = {"name": name, "Name": _camel(name), "CONSTANT": name.upper(), "title": title,
              "title_lower": title.lower(), "keyword": _words(name), "alias": f"{name.replace('_', '')}@council.example.gov.uk",
              "flow": name.replace("_", "-"), "runbook": name.replace("_", "-"), "app": app, "App": _camel(app),
              "APP": app.upper(), "app_title": _words(app).title()}
    files = _write(root, PROCESS_FILES, values, [PACKAGES["tests/processes/{name}"], "tests/processes/{name}"])
    return Made(files, [
        f"run its tests: .venv/bin/python -m pytest tests/processes/{name}",
        "check it: clerk check-config",
        f"then make it the real thing: the form (config/forms/{name}.yaml), the record (flows/{name}.py), the "
        f"bot's field mapping (bots/{app}/bot.py), the replies (config/processes/{name}.yaml), "
        f"runbooks/{values['runbook']}.md",
    ])
