"""The rater's compact form at tablet size (issue 16 items 1-3), in Chromium.

Swipes, as counted here: from the top of the form, for each item in order, the rater swipes
until the option they want is wholly on screen below the sticky header, then taps it. A swipe
moves the page by at most one screen: the height of the page area under the sticky header, so
nothing ever passes under the header unseen. Each swipe goes as far as it can without moving the
wanted option above the header. The limits (issue 16): MADRS at most 3 swipes in landscape,
HAM-D 17 and CADSS at most 8, in landscape 1024x768 and portrait 768x1024.

One server for the module; each test uses its own participant.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from db import participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from study.assessments import find_or_start_assessment
from tests.app_support import PASSWORD
from tests.browser import (
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    new_page,
    open_page,
    sign_in,
    snap,
)

RATER = "rina"
LANDSCAPE = {"width": 1024, "height": 768}
PORTRAIT = {"width": 768, "height": 1024}
SWIPE_LIMITS = {"madrs": {"landscape": 3, "portrait": 3}, "hamd17": 8, "cadss": 8}
FOCUS_TOGGLE = "One item per screen"
OPTION = 'label[data-testid="stRadioOption"]'

# What the rater picks, item by item (any option: they all sit in one row of cards).
CHOICES = {
    "madrs": {f"madrs_{n}": v for n, v in zip(range(1, 11), [3, 3, 2, 2, 2, 2, 2, 2, 2, 2], strict=True)},
    "hamd17": {
        **{f"hamd17_{n}": 1 for n in range(1, 16)},
        "hamd17_16a": 0,
        "hamd17_17": 0,
    },
    "cadss": {f"cadss_{n}": 1 for n in range(1, 24)},
}
NAMES = {"madrs": "MADRS", "hamd17": "HAM-D 17", "cadss": "CADSS"}

# Swipe from the top to each target in turn (see the module docstring); returns swipes and
# whether every target could be brought wholly into view.
SWIPES_JS = """(targets) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const head = document.querySelector('.st-key-form-head');
  const view = main.getBoundingClientRect();
  const below = () => head ? head.getBoundingClientRect().bottom : view.top;
  main.scrollTop = 0;
  const screen = view.bottom - below();
  let swipes = 0, unreachable = [];
  for (const [key, value] of targets) {
    const options = [...document.querySelectorAll('.st-key-' + key + ' label[data-testid="stRadioOption"]')];
    const target = options.find(o => o.innerText.trim().startsWith(value + ' –'));
    if (!target) { unreachable.push(key); continue; }
    for (let guard = 0; guard < 50; guard++) {
      const r = target.getBoundingClientRect();
      if (r.bottom <= view.bottom && r.top >= below()) break;
      const by = Math.min(screen, r.top - below());
      const before = main.scrollTop;
      main.scrollTop += by;
      if (by <= 0 || main.scrollTop === before) { unreachable.push(key); break; }
      swipes++;
    }
  }
  const last = targets.length ? document.querySelector('.st-key-' + targets[targets.length - 1][0]) : null;
  return {swipes, unreachable, header: Math.round(below() - view.top), screen: Math.round(screen),
          end: last ? Math.round(last.getBoundingClientRect().bottom + main.scrollTop - view.top) : null};
}"""


@pytest.fixture(scope="module")
def form_study(app_server) -> SimpleNamespace:
    """Site, rater, participants KET-101 (swipes) and KET-102 (focus mode), with KET-101's
    baseline MADRS, HAM-D 17 and CADSS drafts and KET-102's baseline MADRS."""
    init_database(app_server.db_path)
    system = system_actor("tests")
    protocol = load_protocol()
    with unit_of_work(app_server.db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        rater = users.create_user(db, system, RATER, "rater", PASSWORD, "LON")
        coordinator = users.create_user(db, system, "cory", "coordinator", PASSWORD, "LON")
        people = {
            code: participants.create_participant(db, coordinator, code, "LON")
            for code in ("KET-101", "KET-102", "KET-103")
        }
        drafts = {
            scale: find_or_start_assessment(db, rater, protocol, people["KET-101"]["id"], "baseline", None, scale).id
            for scale in CHOICES
        }
        find_or_start_assessment(db, rater, protocol, people["KET-102"]["id"], "baseline", None, "madrs")
    return SimpleNamespace(drafts=drafts)


def open_draft(page: Page, code: str, scale: str) -> None:
    """From the Rate page's list: tap "Resume <code> · … · <scale>"."""
    resume = page.get_by_role("button", name=re.compile(rf"^Resume {code} · .* · {re.escape(NAMES[scale])}$"))
    with expect_rerun(page):
        resume.tap()
    expect_text(page, f"{NAMES[scale]} — {code}")
    expect_no_exception(page)


def open_menu(page: Page) -> None:
    """Open the menu when it is collapsed (the arrow at the top left); opening sends nothing."""
    arrow = page.locator('[data-testid="stExpandSidebarButton"]')
    if arrow.is_visible():
        arrow.tap()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


def back_to_list(page: Page) -> None:
    click_button(page, "← Back to the list")
    expect_text(page, "Drafts in progress")


def tap_option(page: Page, key: str, value: int) -> None:
    option = page.locator(f".st-key-{key} {OPTION}").filter(has_text=re.compile(rf"^{value} – "))
    with expect_rerun(page):
        option.tap()


def swipes(page: Page, targets: list[tuple[str, int]]) -> dict:
    return page.evaluate(SWIPES_JS, [list(t) for t in targets])


@pytest.mark.browser
def test_each_scale_needs_few_swipes_and_the_header_stays_in_sight(app_server, form_study, browser):
    report = {}
    for orientation, size in (("landscape", LANDSCAPE), ("portrait", PORTRAIT)):
        page = new_page(browser, "tablet_landscape" if orientation == "landscape" else "tablet_portrait")
        page.set_viewport_size(size)
        try:
            sign_in(page, RATER, url=f"{app_server.url}/rate")
            for scale, choices in CHOICES.items():
                open_draft(page, "KET-101", scale)
                taps = 0
                if scale == "hamd17":  # HAM-D 16: weight loss by history (A); a tap of its own
                    with expect_rerun(page):
                        page.locator(".st-key-slot-hamd17_16a").get_by_text(
                            "16A: Loss of weight (by history)", exact=True
                        ).tap()
                    taps += 1
                targets = [(f"item-{item}", value) for item, value in choices.items()]
                measured = swipes(page, targets)
                assert not measured["unreachable"], (orientation, scale, measured)
                taps += len(targets)
                limit = SWIPE_LIMITS[scale]
                limit = limit[orientation] if isinstance(limit, dict) else limit
                report[(scale, orientation)] = (measured["swipes"], taps, measured["header"], measured["end"])
                assert measured["swipes"] <= limit, (
                    f"{scale} in {orientation}: {measured['swipes']} swipes (limit {limit}); "
                    f"sticky header {measured['header']} px"
                )
                # After scrolling to the end the header is still on screen, with the progress.
                header = page.locator(".st-key-form-head")
                page.evaluate(
                    "() => { const m = document.querySelector('[data-testid=stMain]'); m.scrollTop = m.scrollHeight; }"
                )
                box = header.bounding_box()
                assert box is not None and 0 <= box["y"] < 120, (scale, orientation, box)
                on_top = page.evaluate(
                    "([x, y]) => !!document.elementFromPoint(x, y)?.closest('.st-key-form-head')",
                    [box["x"] + 20, box["y"] + box["height"] / 2],
                )
                assert on_top, f"{scale} in {orientation}: the header is covered after scrolling"
                expect(header).to_contain_text(re.compile(rf"\d+ of {17 if scale == 'hamd17' else len(choices)} rated"))
                back_to_list(page)
        except Exception:
            snap(page, f"form-compact-{orientation}-failure")
            raise
        finally:
            page.context.close()
    for (scale, orientation), (count, taps, header, _end) in report.items():
        print(f"{NAMES[scale]} {orientation}: {count} swipes, {taps} taps (sticky header bottom at {header} px)")


@pytest.mark.browser
def test_focus_mode_steps_jumps_and_is_remembered_for_the_rater(app_server, form_study, browser):
    page = new_page(browser, "tablet_landscape")
    page.set_viewport_size(LANDSCAPE)
    try:
        sign_in(page, RATER, url=f"{app_server.url}/rate")
        open_draft(page, "KET-102", "madrs")
        items = page.locator('[class*="st-key-item-madrs_"]')
        expect(items).to_have_count(10)
        # All items on one page: a chip brings its item up to just under the sticky header.
        with expect_rerun(page):
            page.locator('[class*="st-key-chip-unanswered-"][class*="-madrs_4"] button').tap()
        page.wait_for_timeout(300)  # the scroll runs in the browser after the rerun
        head = page.locator(".st-key-form-head").bounding_box()
        item = page.locator(".st-key-item-madrs_4").bounding_box()
        assert head is not None and item is not None
        assert 0 <= item["y"] - (head["y"] + head["height"]) <= 40, (head, item)
        with expect_rerun(page):
            page.get_by_text(FOCUS_TOGGLE, exact=True).tap()
        expect(items).to_have_count(1)
        expect(page.locator(".st-key-item-madrs_4")).to_be_visible()  # where the rater was
        chips = page.locator('.st-key-form-chips [class*="st-key-chip-"]')
        expect(chips).to_have_count(10)  # every item, to jump to

        click_button(page, "Next →")
        expect(page.locator(".st-key-item-madrs_5")).to_be_visible()
        expect_text(page, "Item 5 · 5 of 10")
        tap_option(page, "item-madrs_5", 3)  # answered: its chip says so
        expect(page.locator('[class*="st-key-chip-answered-"][class*="-madrs_5"]')).to_have_count(1)
        click_button(page, "← Back")
        expect(page.locator(".st-key-item-madrs_4")).to_be_visible()
        with expect_rerun(page):
            page.locator('[class*="st-key-chip-unanswered-"][class*="-madrs_7"] button').tap()
        expect(page.locator(".st-key-item-madrs_7")).to_be_visible()
        expect(items).to_have_count(1)

        # Signed out and in again: the rater's choice is kept (their preference, not the session's).
        open_menu(page)  # collapsed on the form page
        click_button(page, "Sign out")
        sign_in(page, RATER)
        open_page(page, "Rate a scale")
        open_draft(page, "KET-102", "madrs")
        expect(page.get_by_role("switch", name=FOCUS_TOGGLE)).to_be_checked()
        expect(items).to_have_count(1)
    except Exception:
        snap(page, "form-focus-failure")
        raise
    finally:
        page.context.close()
