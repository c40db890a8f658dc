"""What a rater waits for in the browser: the first page after opening the app, and each screen
change on the rater's path, in Debian's Chromium at tablet size (1024×768), against a real
`streamlit run app.py` server on a demo study.

Figures (each a median and 95th percentile over --rounds rounds, every round on a NEW server
process, so "first load" is what the first visitor after a restart waits for):

* first load: from `page.goto(url)` until the sign-in form is on screen and Streamlit has
  finished its run (tests/browser.goto: the run's `script_finished` and a quiet DOM);
* a second visitor's first load, on the same server (the process is warm);
* each screen change on the rater's path, from the tap until the new screen is drawn and the
  run is over: sign in → worklist, worklist → the form ("Rate MADRS"), a tap on an answer,
  the menu back to the worklist, the menu to the participant trajectory.

The floor is a bare Streamlit page (a title, a two-field form and a button; no database, no
imports of ours) served by its own `streamlit run` in the same run, measured the same way: its
first load on a new server, and a button tap's rerun.

    python bench/bench_browser.py [--rounds 5] [--participants 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from tests.browser import (  # noqa: E402
    click_button,
    close_browser,
    expect_rerun,
    expect_text,
    fill_in_form,
    goto,
    launch_browser,
    new_page,
    running_app,
    show_menu,
)

from bench import results  # noqa: E402

FLOOR_PAGE = """
import streamlit as st
st.title("Floor")
with st.form("sign_in"):
    st.text_input("User name")
    st.text_input("Password", type="password")
    st.form_submit_button("Sign in")
st.button("Next")
"""

#: The viewport of the figures: a 10-inch tablet in landscape.
VIEWPORT = {"width": 1024, "height": 768}


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class ServerRuns:
    """The server's part of each screen: seconds from the browser's rerun request to Streamlit's
    final `script_finished` for it, read off the page's websocket (Streamlit's own protobuf
    messages), so a figure can be split into server time and the rest (network, drawing)."""

    def __init__(self, page) -> None:
        self.durations: list[float] = []
        self._started: float | None = None
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        if isinstance(payload, bytes) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            self._started = time.perf_counter()

    def _received(self, payload) -> None:
        if not isinstance(payload, bytes) or self._started is None:
            return
        message = ForwardMsg.FromString(payload)
        if message.WhichOneof("type") == "script_finished" and (
            message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        ):
            self.durations.append(time.perf_counter() - self._started)
            self._started = None


SERVER: dict[str, list[float]] = {}  # figure → the server's part of each sample


def step(samples: dict[str, list[float]], name: str, runs: ServerRuns, action: Callable[[], None]) -> None:
    """Time one screen change, and the server's part of it."""
    before = len(runs.durations)
    samples[name].append(timed(action))
    SERVER.setdefault(name, []).append(sum(runs.durations[before:]))


def tap_and_wait(page, locator) -> None:
    with expect_rerun(page):
        locator.tap()


def first_load(browser, url: str, ready: str) -> tuple[float, object]:
    """Seconds from goto until `ready` (a text) shows and the run is over; and the open page."""
    page = new_page(browser, "tablet_landscape")
    page.set_viewport_size(VIEWPORT)
    page.server_runs = ServerRuns(page)  # type: ignore[attr-defined]

    def load() -> None:
        goto(page, url)
        expect_text(page, ready)

    return timed(load), page


def rater_round(browser, db_path: Path, rater: tuple[str, str], samples: dict[str, list[float]]) -> str | None:
    """One new server: first load, a second visitor, then the rater's path; None, or why the
    path failed (the first-load figures are kept)."""
    with running_app(db_path, {"SCALEBOOK_WARMUP": "1"}) as server:
        seconds, page = first_load(browser, server.url, "User name")
        samples["first load (new server)"].append(seconds)
        SERVER.setdefault("first load (new server)", []).append(sum(page.server_runs.durations))
        seconds, second = first_load(browser, server.url, "User name")
        samples["first load (second visitor)"].append(seconds)
        second.context.close()
        try:
            rater_path(page, rater, samples)
        except Exception as exc:  # reported (with a screenshot), and the benchmark exits non-zero
            shot = db_path.parent / f"failure-{time.time():.0f}.png"
            page.screenshot(path=str(shot))
            return f"the rater's path failed ({shot}): {str(exc).splitlines()[0]}"
        finally:
            page.context.close()
    return None


def rater_path(page, rater: tuple[str, str], samples: dict[str, list[float]]) -> None:
    """Sign in, open a MADRS from the worklist, tap an answer, go back, open the trajectory."""
    username, password = rater
    fill_in_form(page, "User name", username)
    fill_in_form(page, "Password", password)
    runs = page.server_runs
    step(
        samples,
        "sign in → worklist",
        runs,
        lambda: (click_button(page, "Sign in"), expect_text(page, "Today's worklist")),
    )
    rate = page.get_by_role("button", name="Rate MADRS").filter(visible=True).first
    step(samples, "worklist → MADRS form", runs, lambda: (tap_and_wait(page, rate), expect_text(page, "MADRS")))
    # An answer of MADRS item 1 that is not the chosen one (the demo may hold a draft): a radio
    # option or a button (the form's layout may change; the item's container key,
    # item-<item id>, is the stable handle).
    answer = (
        page.locator(".st-key-item-madrs_1")
        .locator('label[data-baseweb="radio"], [data-testid="stRadioOption"], button')
        .filter(has_text=re.compile(r"^\s*[0-6]\b"))
        .filter(has_not=page.locator("input:checked"))
        .filter(visible=True)
        .first
    )
    step(samples, "tap an answer", runs, lambda: tap_and_wait(page, answer))
    menu = page.get_by_role("link", name="Today's worklist", exact=True)
    show_menu(page)  # collapsed on the form: opened as a rater does (sends nothing)
    step(
        samples,
        "form → worklist (menu)",
        runs,
        lambda: (tap_and_wait(page, menu), expect_text(page, "Today's worklist")),
    )
    link = page.get_by_role("link", name="Participant trajectory", exact=True)
    show_menu(page)
    step(
        samples,
        "worklist → trajectory (menu)",
        runs,
        lambda: (tap_and_wait(page, link), expect_text(page, "Participant trajectory")),
    )


def floor_round(browser, workdir: Path, samples: dict[str, list[float]]) -> None:
    script = workdir / "floor.py"
    script.write_text(FLOOR_PAGE)
    with running_app(workdir / "floor.db", script=script) as server:
        seconds, page = first_load(browser, server.url, "User name")
        samples["floor: first load"].append(seconds)
        step(samples, "floor: a tap", page.server_runs, lambda: click_button(page, "Next"))
        page.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="new servers per figure (default 5)")
    parser.add_argument("--participants", type=int, default=12, help="demo study size (default 12)")
    parser.add_argument("--json", type=Path, help="write the rows for bench/report.py")
    args = parser.parse_args(argv)

    from demo import build

    workdir = Path(tempfile.mkdtemp(prefix="scalebook-bench-browser-"))
    db_path = workdir / "demo.db"
    accounts = build(db_path, seed=15, participants=args.participants)
    rater = next((a.username, a.password) for a in accounts if a.role == "rater")
    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "first load (new server)",
            "first load (second visitor)",
            "sign in → worklist",
            "worklist → MADRS form",
            "tap an answer",
            "form → worklist (menu)",
            "worklist → trajectory (menu)",
            "floor: first load",
            "floor: a tap",
        )
    }
    browser = launch_browser()
    failures = []
    try:
        for n in range(args.rounds):
            floor_round(browser, workdir, samples)
            failure = rater_round(browser, db_path, rater, samples)
            if failure:
                failures.append(failure)
                print(failure, flush=True)
            print(f"round {n + 1}/{args.rounds} done", flush=True)
    finally:
        close_browser()

    floor_load = samples.pop("floor: first load")
    floor_tap = samples.pop("floor: a tap")
    print(f"\nChromium, 1024×768, demo study of {args.participants} participants, {args.rounds} rounds")
    print(f"{'figure':34} {'median':>8} {'p95':>8} {'floor':>8} {'ratio':>6} {'server':>8}")
    rows = []
    for name, values in samples.items():
        if not values:
            continue
        floor = floor_load if name.startswith("first load") else floor_tap
        server = statistics.median(SERVER[name]) if SERVER.get(name) else None
        row = results.row(
            f"browser: {name}",
            values,
            floor,
            "bare Streamlit page, first load" if name.startswith("first load") else "bare Streamlit page, a tap",
            note="" if server is None else f"server's part (median) {server * 1000:.0f} ms",
        )
        rows.append(row)
        print(
            f"{name:34} {row['median']:8.3f} {row['p95']:8.3f} {row['floor']:8.3f} "
            f"{row['median'] / row['floor']:5.1f}× {'' if server is None else f'{server:8.3f}'}"
        )
    floor_server = statistics.median(SERVER["floor: a tap"])
    print(
        f"(floor first load median {statistics.median(floor_load):.3f} s, tap {statistics.median(floor_tap):.3f} s, "
        f"its server part {floor_server:.3f} s; server = from the browser's request to Streamlit's script_finished)"
    )
    results.write(args.json, rows)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
