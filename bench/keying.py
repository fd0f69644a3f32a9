"""Keying benchmark: Clerk's whole path against a bare Playwright script, same forms, same run.

Both key the same N generated Blue Badge applications into their own fresh Casebook sandbox with the
same settings (no injected faults):

* **raw**: a bare Playwright script that only fills the forms: log in once, then for each application
  the four steps and Save. No lookups, no read-back, no mail, no audit, no Prefect.
* **clerk**: N emails with the PDF forms in the local mailbox, then one ``mail-intake`` flow run under a
  local Prefect server: claim, route, acknowledge, parse, look up, create, read back, reply, audit, move,
  with the embedded default settings (``casebook.lanes`` browser sessions keying at once).

Prints a table, then one JSON object on the last line:
``{"items", "clerk_s_per_item", "raw_s_per_item", "ratio", ...}``. Aim: ratio <= 1.15.

    python bench/keying.py [--items 30] [--postcode-delay-ms 600]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402  (the baseline is bare Playwright on purpose)

from bots.runtime import CHROMIUM_ARGS, find_browser  # noqa: E402
from connectors.documents.blue_badge import validate_application  # noqa: E402
from connectors.mail.local import LocalMailbox  # noqa: E402
from connectors.settings import Secrets  # noqa: E402
from sandbox.casebook import CasebookConfig, CasebookServer  # noqa: E402
from sandbox.forms import applicant, blue_badge_pdf  # noqa: E402
from sandbox.mailgen import application_email  # noqa: E402

PASSWORD = "bench-password"


def raw_script(url: str, applications) -> float:
    """The baseline: fill and save each form with plain Playwright calls. Returns seconds."""
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_browser(), args=list(CHROMIUM_ARGS), headless=True)
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(url)
        page.get_by_label("User name", exact=True).fill("clerk-bot")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        popup = page.get_by_role("dialog", name="Message of the day")
        popup.get_by_role("button", name="OK", exact=True).click()
        content = page.get_by_title("Casebook", exact=True).content_frame
        for app in applications:
            page.get_by_role("navigation", name="Main menu").get_by_role("link", name="New Blue Badge case").click()
            content.get_by_label("Title", exact=True).select_option(label=app.title)
            content.get_by_label("First name(s)", exact=True).fill(app.first_names)
            content.get_by_label("Surname", exact=True).fill(app.surname)
            content.get_by_label("Date of birth", exact=True).fill(app.date_of_birth_text)
            content.get_by_label("National Insurance number", exact=True).fill(app.ni_number)
            content.get_by_role("button", name="Next", exact=True).click()
            content.get_by_label("Postcode", exact=True).fill(app.postcode)
            content.get_by_role("button", name="Find address", exact=True).click()
            content.get_by_text("Address found").wait_for()
            content.get_by_label("Address line 1", exact=True).fill(app.address_line_1)
            content.get_by_label("Address line 2", exact=True).fill(app.address_line_2 or "")
            content.get_by_label("Town", exact=True).fill(app.town)
            content.get_by_role("button", name="Next", exact=True).click()
            content.get_by_label("Reason for applying", exact=True).select_option(label=app.eligibility.value)
            content.get_by_role("group", name="Badge type").get_by_label(app.badge_type.value, exact=True).check()
            content.get_by_label("Existing badge number", exact=True).fill(app.existing_badge_number or "")
            content.get_by_label("Contact phone number", exact=True).fill(app.phone)
            content.get_by_label("Contact email address", exact=True).fill(app.email)
            content.get_by_role("button", name="Next", exact=True).click()
            content.get_by_role("button", name="Save case", exact=True).click()
            content.get_by_text("has been created").wait_for()
        browser.close()
    return time.perf_counter() - started


def clerk_path(workdir: Path, url: str, people, lanes: int | None = None) -> tuple[float, list]:
    """Clerk: N emails through one mail-intake flow run. Returns seconds and the item results."""
    from flows.bootstrap import bootstrap, use_services
    from flows.demo import demo_settings, quiet_prefect_console
    from flows.intake import intake

    settings = demo_settings(workdir, url)
    if lanes is not None:
        settings.casebook = settings.casebook.model_copy(update={"lanes": lanes})
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(7)
    for person in people:
        mailbox.deliver(application_email(f"staff{rng.randrange(99)}@council.example.gov.uk", blue_badge_pdf(person)))
    services = bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password=PASSWORD))
    with use_services(services), quiet_prefect_console():
        started = time.perf_counter()
        results = intake()
        return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--postcode-delay-ms", type=int, default=CasebookConfig().postcode_delay_ms)
    parser.add_argument("--skip-one-lane", action="store_true",
                        help="do not also measure Clerk with a single browser session")
    args = parser.parse_args()
    from bots.casebook.application import CasebookSettings

    lanes = CasebookSettings().lanes
    rng = random.Random(2026)
    people = [applicant(rng) for _ in range(args.items)]
    applications = [validate_application(person) for person in people]
    config = dict(latency_ms=0, error_rate=0.0, popup=True, postcode_delay_ms=args.postcode_delay_ms)

    from flows.prefect_server import local_prefect_server

    with tempfile.TemporaryDirectory(prefix="clerk-bench-") as tmp:
        tmp = Path(tmp)
        server_started = time.perf_counter()
        with local_prefect_server(tmp / "prefect"):
            server_s = time.perf_counter() - server_started
            with CasebookServer(tmp / "raw.db", CasebookConfig(**config), users={"clerk-bot": PASSWORD}) as casebook:
                raw_s = raw_script(casebook.url, applications)
                raw_cases = len(casebook.cases())
            with CasebookServer(tmp / "clerk.db", CasebookConfig(**config), users={"clerk-bot": PASSWORD}) as casebook:
                clerk_s, results = clerk_path(tmp / "clerk", casebook.url, people)
                clerk_cases = len(casebook.cases())
            one_lane_s = None
            if lanes > 1 and not args.skip_one_lane:
                with CasebookServer(tmp / "one.db", CasebookConfig(**config), users={"clerk-bot": PASSWORD}) as casebook:
                    one_lane_s, _ = clerk_path(tmp / "one-lane", casebook.url, people, lanes=1)

    created = sum(1 for result in results if result.outcome == "created")
    figures = {
        "items": args.items,
        "clerk_s_per_item": round(clerk_s / args.items, 4),
        "raw_s_per_item": round(raw_s / args.items, 4),
        "ratio": round(clerk_s / raw_s, 4),
        "clerk_total_s": round(clerk_s, 2),
        "raw_total_s": round(raw_s, 2),
        "clerk_cases_created": clerk_cases,
        "raw_cases_created": raw_cases,
        "clerk_lanes": lanes,
        "clerk_one_lane_s_per_item": round(one_lane_s / args.items, 4) if one_lane_s else None,
        "ratio_one_lane": round(one_lane_s / raw_s, 4) if one_lane_s else None,
        "prefect_server_start_s": round(server_s, 2),
        "postcode_delay_ms": args.postcode_delay_ms,
    }
    if created != args.items or clerk_cases != args.items or raw_cases != args.items:
        print(f"warning: expected {args.items} cases each; clerk created {clerk_cases}, raw {raw_cases}", file=sys.stderr)
    print(f"{'path':<28}{'items':>7}{'total s':>10}{'s/item':>9}{'ratio':>8}")
    rows = [("raw (bare script)", raw_s), (f"clerk ({lanes} lanes, default)", clerk_s)]
    if one_lane_s:
        rows.append(("clerk (1 lane)", one_lane_s))
    for name, seconds in rows:
        print(f"{name:<28}{args.items:>7}{seconds:>10.2f}{seconds / args.items:>9.3f}{seconds / raw_s:>8.3f}")
    print(f"aim: clerk/raw <= 1.15; Prefect server start (once per worker, not per item): {server_s:.1f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
