"""The skeleton generator on recorded action lists: the recorder's own JSON entries in, Python source out.

The entries have the shape Playwright 1.65's recorder reports (its "jsonl" language, captured from a real
recording of Casebook): an action, its locator as a chain of steps, and the aria snapshot of the screen.
Every generated module must parse, pass ruff with the project's settings, and hold nothing that was typed.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bots.recorder.actions import element_name_from_snapshot, is_secret_name, recorded_actions, screen_from_snapshot
from bots.recorder.skeleton import skeleton

ROOT = Path(__file__).resolve().parents[2]

LOGIN = """- generic [ref=e1]:
  - generic [ref=e2]: CasebookAnytown Metropolitan Borough Council
  - generic [ref=e3]:
    - heading "Casebook log in" [level=1] [ref=e4]
    - textbox "User name" [ref=e11]: clerk-bot
    - textbox "Password" [active] [ref=e15]: s3cret-Horse
"""
SHELL = """- generic [ref=e1]:
  - generic [ref=e3]: "User: clerk-bot | Thu 03 Dec 2026"
  - generic [ref=e4]:
    - navigation "Main menu" [ref=e5]:
      - link "Search cases" [ref=e13] [cursor=pointer]:
        - /url: /search
"""
SEARCH = '- generic [ref=e1]:\n  - heading "Search cases" [level=1] [ref=e2]\n  - group "By case reference" [ref=e4]\n'
RESULTS = '- generic [ref=e1]:\n  - heading "Search results" [level=1] [ref=e2]\n  - link "BB-2026-000123" [ref=e9] [cursor=pointer]\n'
CASE = '- generic [ref=e1]:\n  - heading "Case details" [level=1] [ref=e2]\n'
REFERENCE = "BB-2026-000123"
PASSWORD = "s3cret-Horse"


def role(name_of_role: str, name, exact: bool = False) -> dict:
    return {"kind": "role", "body": name_of_role, "options": {"attrs": [], "exact": exact, "name": name}}


def in_frame(inner: dict) -> dict:
    return {"kind": "default", "body": 'iframe[name="content"]', "options": {},
            "next": {"kind": "frame", "body": "", "options": {}, "next": inner}}


def selector_of(locator: dict) -> str:
    return "internal:" + locator.get("kind", "") + "=" + str(locator.get("body"))  # stands for the recorder's own


def fill(locator: dict, text: str) -> dict:
    return {"name": "fill", "selector": selector_of(locator), "text": text, "signals": [], "locator": locator}


def click(locator: dict, **options) -> dict:
    return {"name": "click", "selector": selector_of(locator), "button": options.get("button", "left"),
            "modifiers": options.get("modifiers", 0), "clickCount": options.get("clicks", 1),
            "signals": options.get("signals", []), "locator": locator, "elementName": options.get("element_name")}


def press(locator: dict, key: str, modifiers: int = 0) -> dict:
    return {"name": "press", "selector": selector_of(locator), "key": key, "modifiers": modifiers, "signals": [],
            "locator": locator}


CASEBOOK_JOURNEY = [
    ({"name": "openPage", "url": "about:blank", "signals": []}, None),
    ({"name": "navigate", "url": "http://127.0.0.1:8765/?session=abc123", "signals": []}, None),
    (fill(role("textbox", "User name"), "clerk-bot"), LOGIN),
    (fill(role("textbox", "Password"), PASSWORD), LOGIN),
    (click(role("button", "Log in")), LOGIN),
    (click(role("button", "OK")), SHELL),
    (click(role("link", "Search cases")), SHELL),
    (fill(in_frame(role("textbox", "Case reference")), REFERENCE), SEARCH),
    (click(in_frame(role("button", "Search by reference"))), SEARCH),
    # the recorder shortens a name to what is unique on the screen; the snapshot has it whole
    (click(in_frame(role("link", "BB-2026-")), element_name=element_name_from_snapshot(RESULTS, "e9")), RESULTS),
    (click(in_frame(role("link", "Back to search"))), CASE),
]

# What the skeleton of that journey holds: {class: {method: (parameters after self, what it returns)}}.
# tests/integration/test_recorder.py records the same journey for real and expects the same.
JOURNEY_SCREENS = {
    "CasebookLogInPage": {"__init__": (["page", "settings"], "None"), "open": (["url"], "Self"),
                          "log_in": (["user_name"], "MainMenuPage")},
    "MainMenuPage": {"__init__": (["page", "settings"], "None"), "ok": ([], "None"),
                     "open_search_cases": ([], "SearchCasesPage")},
    "SearchCasesPage": {"__init__": (["page", "settings"], "None"),
                        "search_by_reference": (["case_reference"], "SearchResultsPage")},
    "SearchResultsPage": {"__init__": (["page", "settings"], "None"),
                          "open_case_reference": (["case_reference"], "CaseDetailsPage")},
    "CaseDetailsPage": {"__init__": (["page", "settings"], "None"), "back_to_search": ([], "None")},
}


def generate(entries, secret_values=(), app="cases", url="http://clerk:pw@127.0.0.1:8765/?session=abc123"):
    actions = recorded_actions([(entry, screen_from_snapshot(snapshot)) for entry, snapshot in entries], secret_values)
    return skeleton(actions, app=app, url=url, recorded_on="2026-12-03")


def methods_of(source: str) -> dict[str, dict[str, tuple[list[str], str]]]:
    """{class: {method: (parameters after self, return annotation)}}"""
    found: dict[str, dict[str, tuple[list[str], str]]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            found[node.name] = {
                item.name: ([arg.arg for arg in item.args.args[1:]], ast.unparse(item.returns) if item.returns else "")
                for item in node.body if isinstance(item, ast.FunctionDef)
            }
    return found


def ruff_check(source: str, folder: Path) -> subprocess.CompletedProcess:
    path = folder / "recorded_1.py"
    path.write_text(source, encoding="utf-8")
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed (pip install -e '.[dev]')"
    return subprocess.run([ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(path)],
                          capture_output=True, text=True, timeout=60)


def test_a_recorded_journey_becomes_one_class_per_screen_with_intent_named_methods(tmp_path):
    result = generate(CASEBOOK_JOURNEY, secret_values={PASSWORD})

    assert result.classes == ("CasebookLogInPage", "MainMenuPage", "SearchCasesPage", "SearchResultsPage",
                              "CaseDetailsPage")
    assert methods_of(result.source) == {
        "RecordedSettings": {},
        "RecordedScreen": {"__init__": (["page", "settings"], "None"), "wait": ([], "Self")},
        **JOURNEY_SCREENS,
    }
    assert result.methods == 6
    source = result.source
    assert '        self.marker = page.get_by_role("heading", name="Casebook log in", exact=True)\n' in source
    assert '        self.user_name_field = page.get_by_role("textbox", name="User name")\n' in source
    assert '        self.password_field.fill(self.settings.password)\n' in source
    assert '    password: str = field(repr=False)' in source
    assert '        self.frame = page.locator("iframe[name=\\"content\\"]").content_frame\n' in source
    assert '        self.case_reference_field = self.frame.get_by_role("textbox", name="Case reference")\n' in source
    # the link named after the reference typed on the screen before: built from the parameter, in the method
    assert '        self.frame.get_by_role("link", name=case_reference).click()\n' in source
    assert "        return MainMenuPage(self.page, self.settings).wait()\n" in source
    assert "# TODO: the recording ended here" in source
    for typed in ("clerk-bot", PASSWORD, "BB-2026-", "abc123", "clerk:pw"):
        assert typed not in source
    assert "from http://127.0.0.1:8765/ on 2026-12-03" in source
    checked = ruff_check(source, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_locators_are_built_once_in_init_and_methods_only_use_them():
    tree = ast.parse(generate(CASEBOOK_JOURNEY, secret_values={PASSWORD}).source)
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Page")):
        for method in (item for item in cls.body if isinstance(item, ast.FunctionDef) and item.name != "__init__"):
            calls = [node.func.attr for node in ast.walk(method)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
            built_here = [name for name in calls if name.startswith("get_by_") or name == "locator"]
            expected = ["get_by_role"] if method.name == "open_case_reference" else []
            assert built_here == expected, f"{cls.name}.{method.name} builds {built_here}"


def test_a_value_typed_into_a_password_field_is_a_secret_whatever_the_field_is_called(tmp_path):
    answer = "Tiddles the cat"
    entries = [
        (fill(role("textbox", "Answer"), answer), '- heading "Security check" [level=1]\n'),
        (click(role("button", "Continue")), '- heading "Security check" [level=1]\n'),
    ]
    as_typed = generate(entries, secret_values={answer})
    assert methods_of(as_typed.source)["SecurityCheckPage"]["continue_"] == ([], "None")
    assert "        self.answer_field.fill(self.settings.answer)\n" in as_typed.source
    assert "    answer: str = field(repr=False)" in as_typed.source
    assert answer not in as_typed.source
    assert ruff_check(as_typed.source, tmp_path).returncode == 0

    not_a_password_field = generate(entries)  # the page reported no password field took it: a parameter
    assert methods_of(not_a_password_field.source)["SecurityCheckPage"]["continue_"] == (["answer"], "None")
    assert answer not in not_a_password_field.source


@pytest.mark.parametrize(("name", "secret"), [
    ("Password", True), ("New password", True), ("PIN", True), ("Passcode", True), ("Memorable word", True),
    ("Security answer", True), ("Passport number", False), ("Pinner Road", False), ("Spinning speed", False),
    ("Surname", False),
])
def test_fields_named_for_secrets_are_secrets(name, secret):
    assert is_secret_name(name) is secret


def test_the_screen_is_the_first_top_heading_else_a_named_landmark():
    first_h2 = '- heading "Step 1 of 4: Applicant" [level=2] [ref=e3]\n- heading "New Blue Badge case" [level=1] [ref=e2]\n'
    assert screen_from_snapshot(first_h2).name == ("New Blue Badge case",)
    assert screen_from_snapshot(first_h2).level == 1
    quoted = '- main:\n  - heading "Council Tax \\"RV\\" screen" [level=2]\n'
    assert screen_from_snapshot(quoted).label == 'Council Tax "RV" screen'
    landmark = SHELL
    assert (screen_from_snapshot(landmark).role, screen_from_snapshot(landmark).label) == ("navigation", "Main menu")
    assert screen_from_snapshot('- generic [ref=e1]: Loading\n') is None
    assert screen_from_snapshot(None) is None


def test_a_typed_value_shown_in_a_heading_is_not_written():
    entries = [
        (fill(role("textbox", "Case reference"), REFERENCE), SEARCH),
        (click(role("button", "Search by reference")), SEARCH),
        (click(role("link", "Edit")), f'- heading "Case {REFERENCE}" [level=1]\n'),
    ]
    result = generate(entries)
    assert result.classes == ("SearchCasesPage", "CasePage")
    assert '        self.marker = page.get_by_role("heading", level=1)\n' in result.source
    assert "the heading showed a typed value" in result.source
    assert REFERENCE not in result.source


def test_locators_the_recorder_gave_as_css_or_a_regular_expression_are_marked_todo(tmp_path):
    regex = {"name": "click", "selector": 'iframe[name="content"] >> internal:control=enter-frame >> '
                                          'internal:role=button[name=/Go \\d+/i]',
             "button": "left", "modifiers": 0, "clickCount": 1, "signals": [],
             "locator": in_frame({"kind": "role", "body": "button", "options": {"attrs": [], "exact": False, "name": {}}})}
    css = click({"kind": "default", "body": "#ctl00_main_btnSave", "options": {}})
    result = generate([(regex, SEARCH), (css, '- heading "Save" [level=1]\n')])
    source = result.source
    assert "# TODO: the recorder's locator used a regular expression" in source
    assert '        self.element = self.frame.locator("internal:role=button[name=/Go \\\\d+/i]")\n' in source
    assert "# TODO: the recorder found no role, label or text for this" in source
    assert '        self.element = page.locator("#ctl00_main_btnSave")\n' in source
    assert "# TODO: find the frame by its title" in source
    assert ruff_check(source, tmp_path).returncode == 0


def test_a_sequence_repeated_is_one_method_and_different_ones_with_one_name_are_numbered():
    search = in_frame(role("button", "Search"))
    entries = [
        (fill(in_frame(role("textbox", "Surname")), "Okafor"), SEARCH), (click(search), SEARCH),
        (click(in_frame(role("link", "New search"))), RESULTS),
        (fill(in_frame(role("textbox", "Surname")), "Nowak"), SEARCH), (click(search), SEARCH),
        (click(in_frame(role("link", "New search"))), RESULTS),
        (fill(in_frame(role("textbox", "Notes")), "blue"), SEARCH), (click(search), SEARCH),
    ]
    found = methods_of(generate(entries).source)
    assert found["SearchCasesPage"] == {"__init__": (["page", "settings"], "None"),
                                        "search": (["surname"], "SearchResultsPage"),
                                        "search_2": (["notes"], "None")}  # the recording ended there
    assert found["SearchResultsPage"]["open_new_search"] == ([], "SearchCasesPage")


def test_sequences_without_a_click_are_named_from_their_fields_and_marked_todo():
    form = '- heading "Change of address" [level=1]\n'
    entries = [
        (fill(role("textbox", "Postcode"), "AB1 2CD"), form),
        (press(role("textbox", "Postcode"), "Tab"), form),  # moving on: not part of the task
        (press(role("textbox", "Postcode"), "Enter"), form),
        (fill(role("textbox", "Moved in on"), "01/04/2026"), form),
        (press(role("textbox", "Moved in on"), "s", modifiers=2), form),
    ]
    source = generate(entries).source
    assert methods_of(source)["ChangeOfAddressPage"] == {
        "__init__": (["page", "settings"], "None"), "submit": (["postcode"], "None"),
        "fill_moved_in_on": (["moved_in_on"], "None")}
    assert "Tab" not in source
    assert '        self.moved_in_on_field.press("Control+s")\n' in source
    assert source.count("TODO: name this method for its intent") == 2


def test_clicks_keep_their_button_count_and_modifiers_and_what_they_set_off():
    screen = '- heading "Ledger" [level=1]\n'
    entries = [
        (click(role("row", "INV-1"), clicks=2), screen),
        (click(role("row", "INV-2"), button="right"), screen),
        (click(role("link", "Print"), modifiers=8, signals=[{"name": "popup"}]), screen),
    ]
    source = generate(entries).source
    assert "        self.inv_1_row.dblclick()\n" in source
    assert '        self.inv_2_row.click(button="right")\n' in source
    assert '        self.print_link.click(modifiers=["Shift"])\n' in source
    assert "# TODO: the next step opened a new window" in source


def test_the_full_name_of_the_element_acted_on_comes_from_the_snapshot():
    assert element_name_from_snapshot(RESULTS, "e9") == REFERENCE
    assert element_name_from_snapshot('- button "Say \\"hi\\"" [ref=e3]\n', "e3") == 'Say "hi"'
    assert element_name_from_snapshot(RESULTS, "e99") is None
    assert element_name_from_snapshot(None, "e9") is None
