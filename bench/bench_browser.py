"""What a rater waits for in the browser: the first page after opening the app, and each screen
change on the rater's path, in Debian's Chromium at tablet size (1024×768), against a real
`streamlit run app.py` server on a demo study.

Each figure is "drawn": measured inside the page, from the moment the screen was asked for (the
start of the navigation for a first load; the tap's `pointerdown` for a screen change) to the
last change Streamlit made to the page for it (a MutationObserver on the whole document, read
once the run is over and the page has been quiet for 100 ms). The quiet period that proves
nothing more is coming, and Playwright's own round trips, are not part of what the rater waits
for; they are in the second column, "settled" (wall clock from the call until that proof), for
comparison. Before each timed tap the target is checked for being visible and still (Playwright's
`trial` tap), so a menu still sliding in is not counted against the next screen.

Figures (each a median and 95th percentile over --rounds rounds, every round on a NEW server
process, so "first load" is what the first visitor after a restart waits for):

* first load, new browser: a browser that never opened Scalebook (nothing cached);
* first load, tablet that opened it before: the same browser as the previous round (its cache
  holds Streamlit's scripts, served as immutable files), against the new server on the same
  address: the rater opening the app in the morning;
* a second visitor's first load, on the same server (the process is warm);
* each screen change on the rater's path: sign in → worklist, worklist → the form ("Rate
  MADRS"), a tap on an answer (every item of the MADRS, the first tap on the new form
  included), sign and submit (the password is checked: argon2), back to the worklist; then the
  menu to the participant trajectory, the PI's view, which a rater may open too.

The floor is a bare Streamlit page (a title, a two-field form and a button; no database, no
imports of ours) served by its own `streamlit run` in the same run, measured the same way: its
first load on a new server (new browser, and returning browser), and a button tap's rerun.
The server's part of each screen (from the browser's rerun request to Streamlit's final
`script_finished`, read off the websocket) is printed beside it.

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
    close_browser,
    expect_rerun,
    expect_text,
    fill_in_form,
    free_port,
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
st.session_state.runs = st.session_state.get("runs", 0) + 1
st.write(f"Run {st.session_state.runs}")  # so a tap changes what is on screen, as a rater's tap does
"""

#: Answers tapped on the form in each round (items 1, 2, ...: the whole MADRS, so it can be signed):
#: the first tap on a newly opened form and the ones after it.
TAPS_PER_ROUND = 10
SIGNATURE_LABEL = "Your password, to sign as the rater (meaning: authored)"

#: The viewport of the figures: a 10-inch tablet in landscape.
VIEWPORT = {"width": 1024, "height": 768}


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class ServerRuns:
    """The server's part of each screen: seconds from the browser's rerun request to Streamlit's
    final `script_finished` for it, read off the page's websocket (Streamlit's own protobuf
    messages), so a figure can be split into server time and the rest (network, drawing).

    An upper bound: Playwright hands the frames over late when the machine is busy (the server's
    own log, probed once, had sent the last message of a screen change 60 to 170 ms before this saw it).
    Watching the frames does not slow the page: drawn times are the same without it."""

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
SETTLED: dict[str, list[float]] = {}  # figure → wall clock until the page was proven quiet

#: Installed in every page before Streamlit's own scripts: the time of the rater's first input
#: since the last reset, and of the last change to the document (both on the page's clock, whose
#: zero is the start of the navigation).
PROBE_JS = """(() => {
  const probe = window.__scalebookProbe = {tap: null, last: null, reset() { this.tap = null; this.last = null; }};
  const input = () => { if (probe.tap === null) probe.tap = performance.now(); };
  for (const type of ["pointerdown", "touchstart", "mousedown"]) window.addEventListener(type, input, {capture: true});
  const observe = () => new MutationObserver(() => { probe.last = performance.now(); }).observe(
    document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) observe(); else document.addEventListener("readystatechange", observe, {once: true});
})()"""


def probed_page(browser):
    """A tablet-sized page in a new browser context (nothing cached), with the probe and the
    websocket watch."""
    page = new_page(browser, "tablet_landscape")
    page.set_viewport_size(VIEWPORT)
    page.add_init_script(PROBE_JS)
    page.server_runs = ServerRuns(page)  # type: ignore[attr-defined]
    return page


def drawn_since_tap(page) -> float:
    """Seconds from the tap to the last change the page saw (read after the run settled)."""
    tap, last = page.evaluate("[window.__scalebookProbe.tap, window.__scalebookProbe.last]")
    if tap is None or last is None or last < tap:
        raise AssertionError(f"the probe saw no tap or no change after it (tap {tap}, last change {last})")
    return (last - tap) / 1000


def step(samples: dict[str, list[float]], name: str, page, target, ready: str | None = None) -> None:
    """Tap `target` and time the screen change it makes (until `ready`, a text, shows), and the
    server's part of it. The target is first waited for to be visible and still, untimed."""
    runs = page.server_runs
    target.tap(trial=True)
    page.evaluate("window.__scalebookProbe.reset()")
    before = len(runs.durations)

    def action() -> None:
        tap_and_wait(page, target)
        if ready:
            expect_text(page, ready)

    SETTLED.setdefault(name, []).append(timed(action))
    samples[name].append(drawn_since_tap(page))
    SERVER.setdefault(name, []).append(sum(runs.durations[before:]))


def tap_and_wait(page, locator) -> None:
    with expect_rerun(page):
        locator.tap()


def load_page(page, url: str, ready: str) -> tuple[float, float]:
    """Open `url` in `page` until `ready` (a text) shows and the run is over: (drawn, settled)
    seconds, drawn from the start of the navigation to the page's last change."""
    settled = timed(lambda: (goto(page, url), expect_text(page, ready)))
    last = page.evaluate("window.__scalebookProbe.last")
    return last / 1000, settled


def record(samples: dict[str, list[float]], name: str, figures: tuple[float, float], server: float | None) -> None:
    samples[name].append(figures[0])
    SETTLED.setdefault(name, []).append(figures[1])
    if server is not None:
        SERVER.setdefault(name, []).append(server)


def rater_round(
    browser, returning, db_path: Path, port: int, rater: tuple[str, str], samples: dict[str, list[float]]
) -> str | None:
    """Two new servers on `port`. The first: a new browser's first load, a second visitor, then
    the rater's path; the returning browser then opens it untimed (so it has been here before).
    The second: the returning browser's first load. None, or why the path failed (the
    first-load figures are kept)."""
    with running_app(db_path, {"SCALEBOOK_WARMUP": "1"}, port=port) as server:
        page = probed_page(browser)
        record(samples, "first load, new browser", load_page(page, server.url, "User name"), None)
        SERVER.setdefault("first load, new browser", []).append(sum(page.server_runs.durations))
        second = probed_page(browser)
        record(samples, "first load, second visitor", load_page(second, server.url, "User name"), None)
        second.context.close()
        load_page(returning, server.url, "User name")
        returning.goto("about:blank")
        try:
            rater_path(page, rater, samples)
        except Exception as exc:  # reported (with a screenshot), and the benchmark exits non-zero
            shot = db_path.parent / f"failure-{time.time():.0f}.png"
            page.screenshot(path=str(shot))
            return f"the rater's path failed ({shot}): {str(exc).splitlines()[0]}"
        finally:
            page.context.close()
    with running_app(db_path, {"SCALEBOOK_WARMUP": "1"}, port=port) as server:
        record(samples, "first load, tablet that opened it before", load_page(returning, server.url, "User name"), None)
        returning.goto("about:blank")
    return None


def rater_path(page, rater: tuple[str, str], samples: dict[str, list[float]]) -> None:
    """Sign in, open a MADRS from the worklist, answer every item, sign and submit, go back to the
    worklist, open the participant trajectory (the PI's view; raters may open it too)."""
    username, password = rater
    fill_in_form(page, "User name", username)
    fill_in_form(page, "Password", password)
    sign_in = page.get_by_role("button", name="Sign in", exact=True).filter(visible=True)
    step(samples, "sign in → worklist", page, sign_in, "Today's worklist")
    rate = page.get_by_role("button", name="Rate MADRS").filter(visible=True).first
    step(samples, "worklist → MADRS form", page, rate, "MADRS")
    # Taps on the answers of the first TAPS_PER_ROUND items, each an answer not chosen yet (the demo
    # may hold a draft): a radio option or a button (the form's layout may change; the item's
    # container key, item-<item id>, is the stable handle).
    for number in range(1, TAPS_PER_ROUND + 1):
        answer = (
            page.locator(f".st-key-item-madrs_{number}")
            .locator('label[data-baseweb="radio"], [data-testid="stRadioOption"], button')
            .filter(has_text=re.compile(r"^\s*[0-6]\b"))
            .filter(has_not=page.locator("input:checked"))
            .filter(visible=True)
            .first
        )
        step(samples, "tap an answer", page, answer)
    page.get_by_label(SIGNATURE_LABEL, exact=True).fill(password)
    submit = page.get_by_role("button", name="Sign and submit", exact=True).filter(visible=True)
    step(samples, "sign and submit", page, submit, "Submitted (signed)")
    back = page.get_by_role("button", name="Back to the worklist", exact=True).filter(visible=True)
    step(samples, "submitted form → worklist", page, back, "Today's worklist")
    show_menu(page)
    link = page.get_by_role("link", name="Participant trajectory", exact=True)
    step(samples, "worklist → trajectory (menu)", page, link, "Participant trajectory")


def floor_round(browser, returning, workdir: Path, port: int, samples: dict[str, list[float]]) -> None:
    """The same, for the bare page: a new browser's first load and a tap; the returning browser's
    first load on a second new server."""
    script = workdir / "floor.py"
    script.write_text(FLOOR_PAGE)
    with running_app(workdir / "floor.db", script=script, port=port) as server:
        page = probed_page(browser)
        record(samples, "floor: first load, new browser", load_page(page, server.url, "User name"), None)
        step(samples, "floor: a tap", page, page.get_by_role("button", name="Next", exact=True))
        page.context.close()
        load_page(returning, server.url, "User name")
        returning.goto("about:blank")
    with running_app(workdir / "floor.db", script=script, port=port) as server:
        record(samples, "floor: first load, returning browser", load_page(returning, server.url, "User name"), None)
        returning.goto("about:blank")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="new servers per figure (default 5)")
    parser.add_argument("--participants", type=int, default=12, help="demo study size (default 12)")
    parser.add_argument("--json", type=Path, help="write the rows for bench/report.py")
    args = parser.parse_args(argv)

    from demo import build

    workdir = Path(tempfile.mkdtemp(prefix="scalebook-bench-browser-"))

    def fresh_study(round_number: int) -> tuple[Path, tuple[str, str]]:
        """A new demo study for each round: a round signs a MADRS, and the next round must still
        find one due on the worklist whatever the time of day."""
        db_path = workdir / f"round-{round_number}" / "demo.db"
        db_path.parent.mkdir()
        accounts = build(db_path, seed=15, participants=args.participants)
        return db_path, next((a.username, a.password) for a in accounts if a.role == "rater")

    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "first load, new browser",
            "first load, tablet that opened it before",
            "first load, second visitor",
            "sign in → worklist",
            "worklist → MADRS form",
            "tap an answer",
            "sign and submit",
            "submitted form → worklist",
            "worklist → trajectory (menu)",
            "floor: first load, new browser",
            "floor: first load, returning browser",
            "floor: a tap",
        )
    }
    browser = launch_browser()
    failures = []
    app_port, floor_port = free_port(), free_port()
    try:
        returning_app, returning_floor = probed_page(browser), probed_page(browser)
        for n in range(args.rounds):
            floor_round(browser, returning_floor, workdir, floor_port, samples)
            db_path, rater = fresh_study(n + 1)
            failure = rater_round(browser, returning_app, db_path, app_port, rater, samples)
            if failure:
                failures.append(failure)
                print(failure, flush=True)
            print(f"round {n + 1}/{args.rounds} done", flush=True)
    finally:
        close_browser()

    floor_new = samples.pop("floor: first load, new browser")
    floor_returning = samples.pop("floor: first load, returning browser")
    floor_tap = samples.pop("floor: a tap")
    floor_tap_settled = SETTLED.pop("floor: a tap")
    print(f"\nChromium, 1024×768, demo study of {args.participants} participants, {args.rounds} rounds (seconds)")
    print(f"{'figure':42} {'drawn':>7} {'p95':>7} {'floor':>7} {'ratio':>6} {'settled':>8} {'server':>7}")
    rows = []
    for name, values in samples.items():
        if not values:
            continue
        if name == "first load, tablet that opened it before":
            floor, floor_label = floor_returning, "bare Streamlit page, first load in a browser that opened it before"
        elif name.startswith("first load"):
            floor, floor_label = floor_new, "bare Streamlit page, first load in a new browser"
        else:
            floor, floor_label = floor_tap, "bare Streamlit page, a tap"
        server = statistics.median(SERVER[name]) if SERVER.get(name) else None
        settled = statistics.median(SETTLED[name])
        row = results.row(
            f"browser: {name}",
            values,
            floor,
            floor_label,
            note=f"settled {settled:.2f} s" + ("" if server is None else f"; server's part {server * 1000:.0f} ms"),
        )
        rows.append(row)
        print(
            f"{name:42} {row['median']:7.3f} {row['p95']:7.3f} {row['floor']:7.3f} "
            f"{row['median'] / row['floor']:5.1f}× {settled:8.3f} {'' if server is None else f'{server:7.3f}'}"
        )
    print(
        f"floor: first load {statistics.median(floor_new):.3f} s (new browser), "
        f"{statistics.median(floor_returning):.3f} s (returning); a tap {statistics.median(floor_tap):.3f} s drawn, "
        f"{statistics.median(floor_tap_settled):.3f} s settled, server part {statistics.median(SERVER['floor: a tap']):.3f} s"
    )
    print(
        "drawn = from the navigation's start or the tap to the page's last change; settled = wall clock until "
        "the page was proven quiet (100 ms without change); server = from the rerun request to script_finished"
    )
    results.write(args.json, rows)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
