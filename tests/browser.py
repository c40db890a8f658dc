"""Browser test harness: a real `streamlit run app.py` server driven by Debian's Chromium.

Browser tests stay short by leaning on this module:

    from tests.browser import click_button, expect_text, fill_text, goto

    @pytest.mark.browser
    def test_rater_saves(app_server, tablet_page):
        goto(tablet_page, app_server.url)
        fill_text(tablet_page, "Participant ID", "P-001")
        click_button(tablet_page, "Save")
        expect_text(tablet_page, "Saved")

The fixtures (`app_server`, `fresh_app_server`, `app_env`, `browser`, `tablet_page`,
`tablet_portrait_page`, `phone_page`) reach every test through tests/conftest.py's pytest_plugins:
never import them; import the helper functions by name.
Override `app_env` (module scope) in a test module to give its servers extra environment.

Rules this module enforces:

* The browser is Debian's `/usr/bin/chromium`, never a Playwright download. Missing, the browser
  tests skip on a developer machine and FAIL under `CI=true` (see `require_chromium`).
* Each server gets its own SQLite file through `SCALEBOOK_DB`; no test touches data/.
* Every helper that acts on the page returns only once Streamlit has finished the rerun the
  action caused, so the next line of a test sees the new page (see `wait_for_idle`).

How "finished rerunning" is detected (Streamlit 1.67, checked in Chromium 156):

1. Protocol. Every rerun is a `BackMsg.rerun_script` frame from the browser, answered by
   `ForwardMsg.new_session` ... `ForwardMsg.script_finished` on `/_stcore/stream`.
   `st.rerun()` ends one run with status FINISHED_EARLY_FOR_RERUN and starts another;
   fragment runs end with FINISHED_FRAGMENT_RUN_SUCCESSFULLY; a run interrupted by a newer
   request (runner.fastReruns) sends no script_finished at all. Playwright reports these frames,
   and Streamlit's own protobuf classes decode them, so we know exactly when the server is done.
2. DOM. `[data-testid="stApp"]` carries `data-test-script-state` (`initial`, `running`,
   `notRunning`, `rerunRequested`, `stopRequested`, `compilationError`) and
   `data-test-connection-state` (`CONNECTED`, ...). Alone it is NOT enough: React batches
   updates, so a quick rerun often never shows `running` and the attribute stays `notRunning`
   while the old page is still on screen. `[data-testid="stStatusWidget"]` is no use either: it
   only appears after a delay and never showed at all with this project's config.
3. Settle. After the server is done and the DOM says `notRunning`, wait until the DOM has had
   no mutations for a short quiet period, so the browser has rendered the last messages.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.app_support import PASSWORD

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as exc:  # reported by require_chromium (skip locally, fail under CI)
    _PLAYWRIGHT_IMPORT_ERROR: ImportError | None = exc
else:
    _PLAYWRIGHT_IMPORT_ERROR = None

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, WebSocket

REPO_ROOT = Path(__file__).resolve().parent.parent

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
]
INSTALL_HINT = "install Debian's Chromium with `apt-get install -y chromium` (never `playwright install`)"

# The CI machine has 2 cores; Streamlit's first run of a page can take several seconds there.
DEFAULT_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 30_000
SERVER_START_TIMEOUT_S = 30.0
SETTLE_QUIET_MS = 100  # DOM must be unchanged this long after a run ...
SETTLE_MAX_MS = 2_000  # ... but never wait longer than this for it (animations, timers)
NO_RERUN_GRACE_MS = 500  # how long an optional rerun gets to start before we stop waiting

ARTIFACTS_DIR = Path(os.environ.get("SCALEBOOK_ARTIFACTS_DIR", REPO_ROOT / "tests" / ".artifacts"))

APP = '[data-testid="stApp"]'
# Finished: `notRunning`, or `compilationError` (a SyntaxError in a page: the run is over too).
APP_IDLE = ", ".join(
    f'{APP}[data-test-script-state="{state}"][data-test-connection-state="CONNECTED"]'
    for state in ("notRunning", "compilationError")
)
EXCEPTION = '[data-testid="stException"]'

# Keyword arguments for Browser.new_context, by the devices the project supports.
VIEWPORTS: dict[str, dict[str, Any]] = {
    "tablet_landscape": {
        "viewport": {"width": 1024, "height": 640},
        "has_touch": True,
        "is_mobile": False,
        "device_scale_factor": 1,
    },
    "tablet_portrait": {
        "viewport": {"width": 810, "height": 1080},
        "has_touch": True,
        "is_mobile": False,
        "device_scale_factor": 1,
    },
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
        "device_scale_factor": 2,
    },
}

if _PLAYWRIGHT_IMPORT_ERROR is None:
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)  # Playwright's default of 5 s is too short on CI


# --------------------------------------------------------------------------- browser availability


def running_in_ci() -> bool:
    """True when the `CI` environment variable says so (GitHub/GitLab set CI=true)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_chromium(path: str | os.PathLike[str] | None = None) -> str:
    """Return the Chromium path, or skip the test (developer machine) / fail it (CI=true).

    A browser test that silently skips in CI would let the whole UI go untested, so under
    CI a missing browser is an error, never a skip.
    """
    path = os.fspath(path if path is not None else CHROMIUM_PATH)
    problem = None
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        problem = f"Chromium not found at {path}"
    elif _PLAYWRIGHT_IMPORT_ERROR is not None:
        problem = f"the playwright package is not importable ({_PLAYWRIGHT_IMPORT_ERROR})"
    if problem is None:
        return path
    if running_in_ci():
        pytest.fail(f"{problem}; browser tests must run under CI=true: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{problem}: {INSTALL_HINT}")


# --------------------------------------------------------------------------- app server


class AppServerError(RuntimeError):
    """The Streamlit server did not come up; the message carries its stderr."""


@dataclass
class AppServer:
    """A running `streamlit run` process (yielded by `running_app` and the server fixtures)."""

    url: str  # base URL, e.g. http://127.0.0.1:41234
    port: int
    db_path: Path  # the SQLite file the server was given through SCALEBOOK_DB
    env: dict[str, str]  # the complete environment the process was started with
    process: subprocess.Popen[bytes]
    log_dir: Path = field(repr=False)

    def stderr(self) -> str:
        """The server's stderr so far (Streamlit's log; tracebacks too unless `rich` draws them on stdout)."""
        return _read(self.log_dir / "stderr.log")

    def stdout(self) -> str:
        return _read(self.log_dir / "stdout.log")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _NO_PROXY.open(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _start(script: str, port: int, env: dict[str, str], log_dir: Path, timeout: float) -> subprocess.Popen[bytes]:
    """Start the server and wait for /_stcore/health; raise AppServerError with its stderr if not."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
    ]
    with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            reason = (
                f"exited with code {process.returncode}"
                if process.poll() is not None
                else f"did not answer {url}/_stcore/health within {timeout:.0f} s"
            )
            _stop(process)
            raise AppServerError(
                f"`{' '.join(cmd)}` {reason}.\n--- stderr ---\n"
                f"{_read(log_dir / 'stderr.log')[-4000:]}\n--- stdout ---\n"
                f"{_read(log_dir / 'stdout.log')[-2000:]}"
            )
        time.sleep(0.1)
    return process


@contextlib.contextmanager
def running_app(
    db_path: str | os.PathLike[str],
    env: Mapping[str, object] | None = None,
    *,
    script: str | os.PathLike[str] = "app.py",
    timeout: float = SERVER_START_TIMEOUT_S,
    port: int | None = None,
) -> Iterator[AppServer]:
    """Run `streamlit run <script>` (cwd = repo root, so .streamlit/config.toml applies) on a free
    port with SCALEBOOK_DB=db_path, yield an AppServer once healthy, stop it on exit.

    `env` adds or overrides environment variables (e.g. SCALEBOOK_IDLE_TIMEOUT_MINUTES); values
    are str()-ed; SCALEBOOK_DB always comes from `db_path`. Enter it twice with the same path to
    prove that data survives a server restart. `port` asks for that port (a browser that comes
    back to the same address, with its cache, after a restart); by default any free one.
    """
    db_path = Path(db_path).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        **{k: str(v) for k, v in (env or {}).items()},
        "SCALEBOOK_DB": str(db_path),
        "PYTHONUNBUFFERED": "1",
    }
    with tempfile.TemporaryDirectory(prefix="scalebook-server-") as logs:
        log_dir = Path(logs)
        asked = port
        for attempt in range(3):  # a free port can be taken by someone else before we bind it
            port = asked or free_port()
            try:
                process = _start(os.fspath(script), port, full_env, log_dir, timeout)
                break
            except AppServerError as exc:
                if asked or attempt == 2 or ("not available" not in str(exc) and "already in use" not in str(exc)):
                    raise
        server = AppServer(
            url=f"http://127.0.0.1:{port}", port=port, db_path=db_path, env=full_env, process=process, log_dir=log_dir
        )
        _running[server.url] = server
        try:
            yield server
        finally:
            _running.pop(server.url, None)
            _stop(process)


_running: dict[str, AppServer] = {}  # by base URL, so a failing assertion can quote the server's log


def _server_traceback(page: Page) -> str:
    """The last traceback in the log of the server `page` is showing (the page itself only shows a
    redacted message: client.showErrorDetails = "none")."""
    for url, server in _running.items():
        if page.url.startswith(url):
            # Streamlit writes a script's traceback to stderr, or (drawn by `rich`, when that is
            # installed) to stdout with colour codes: look in both, without the codes.
            for name, log in (("stderr", server.stderr()), ("stdout", server.stdout())):
                log = _ANSI_CODES.sub("", log)
                start = log.rfind("Traceback")
                if start >= 0:
                    return f"\n--- server {name}, last traceback ---\n{log[start:][-4000:]}"
    return ""


_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def app_env() -> dict[str, object]:
    """Extra environment for `app_server`/`fresh_app_server`; override it (module scope) in a test module."""
    return {}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, app_env: dict[str, object]) -> Iterator[AppServer]:
    """One server per test module, on a fresh temporary database."""
    with running_app(tmp_path_factory.mktemp("app") / "scalebook.db", app_env) as server:
        yield server


@pytest.fixture
def fresh_app_server(tmp_path: Path, app_env: dict[str, object]) -> Iterator[AppServer]:
    """One server per test, on a fresh temporary database (for tests that write data)."""
    with running_app(tmp_path / "scalebook.db", app_env) as server:
        yield server


# --------------------------------------------------------------------------- browser and pages

_playwright: Any = None
_browser: Browser | None = None


def launch_browser() -> Browser:
    """The shared headless Chromium of this test session (launched on first use)."""
    global _playwright, _browser
    require_chromium()
    if _browser is None or not _browser.is_connected():
        if _playwright is None:
            _playwright = sync_playwright().start()
        _browser = _playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
    return _browser


def close_browser() -> None:
    global _playwright, _browser
    if _browser is not None:
        with contextlib.suppress(Exception):
            _browser.close()
        _browser = None
    if _playwright is not None:
        _playwright.stop()
        _playwright = None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Session-wide Chromium (one process for every browser test of the run)."""
    yield launch_browser()
    close_browser()


def new_context(browser: Browser, viewport: str = "tablet_landscape", **overrides: Any) -> BrowserContext:
    """A fresh browser context (own cookies/storage, i.e. a fresh Streamlit session) for one of
    VIEWPORTS, with the generous default timeouts; `overrides` go to Browser.new_context."""
    options = {**VIEWPORTS[viewport], "reduced_motion": "reduce", **overrides}
    context = browser.new_context(**options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context


def new_page(browser: Browser, viewport: str = "tablet_landscape", **overrides: Any) -> Page:
    """A page in its own new context (see new_context), watched for Streamlit reruns.
    Close it with `page.context.close()`."""
    context = new_context(browser, viewport, **overrides)
    page = context.new_page()
    _watch(page, touch=bool(overrides.get("has_touch", VIEWPORTS[viewport]["has_touch"])))
    return page


@contextlib.contextmanager
def _page_for_test(browser: Browser, viewport: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = new_page(browser, viewport)
    failures_before = request.session.testsfailed
    try:
        yield page
    finally:
        # The call phase's report is counted before fixtures are torn down: screenshot failures.
        if request.session.testsfailed > failures_before:
            with contextlib.suppress(Exception):
                print(f"screenshot of the failure: {snap(page, f'{request.node.name}-failure')}")
        page.context.close()


@pytest.fixture
def tablet_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Tablet landscape 1024x640 with touch (a rater's tablet); screenshot saved on failure."""
    with _page_for_test(browser, "tablet_landscape", request) as page:
        yield page


@pytest.fixture
def tablet_portrait_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Tablet portrait 810x1080 with touch; screenshot saved on failure."""
    with _page_for_test(browser, "tablet_portrait", request) as page:
        yield page


@pytest.fixture
def phone_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Phone portrait 390x844, mobile, touch, 2x pixels (a participant's phone); screenshot on failure."""
    with _page_for_test(browser, "phone", request) as page:
        yield page


def snap(page: Page, name: str) -> Path:
    """Save a full-page PNG screenshot to tests/.artifacts/<name>.png (for debugging) and return its path."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --------------------------------------------------------------------------- Streamlit run tracking


class _Watch:
    """Follows one page's Streamlit websocket and knows whether the server is mid-run."""

    def __init__(self, touch: bool) -> None:
        self.touch = touch  # tap instead of click
        self.from_start = False  # saw the websocket open, so the protocol state can be trusted
        self.reset()

    def reset(self) -> None:
        self.ws: WebSocket | None = None
        self.closed = False
        self.reruns_requested = 0  # BackMsg.rerun_script frames sent
        self.runs_finished = 0
        self.awaiting_session = False  # a rerun was requested; its new_session has not arrived yet
        self.running = False  # between new_session and a final script_finished

    @property
    def idle(self) -> bool:
        return (
            self.ws is not None
            and not self.closed
            and self.runs_finished > 0
            and not self.awaiting_session
            and not self.running
        )

    def describe(self) -> str:
        return (
            f"websocket={'closed' if self.closed else 'open' if self.ws else 'none'}, "
            f"reruns requested={self.reruns_requested}, runs finished={self.runs_finished}, "
            f"awaiting new_session={self.awaiting_session}, running={self.running}"
        )

    def on_websocket(self, ws: WebSocket) -> None:
        if not ws.url.endswith("/_stcore/stream"):
            return
        self.reset()
        self.ws = ws
        ws.on("framesent", lambda payload: self._sent(ws, payload))
        ws.on("framereceived", lambda payload: self._received(ws, payload))
        ws.on("close", lambda _ws: self._closed(ws))

    def _closed(self, ws: WebSocket) -> None:
        if ws is self.ws:
            self.closed = True

    def _sent(self, ws: WebSocket, payload: str | bytes) -> None:
        if ws is not self.ws or isinstance(payload, str):
            return
        if _message_type(_BackMsg, payload)[0] == "rerun_script":
            self.reruns_requested += 1
            self.awaiting_session = True

    def _received(self, ws: WebSocket, payload: str | bytes) -> None:
        if ws is not self.ws or isinstance(payload, str):
            return
        kind, message = _message_type(_ForwardMsg, payload)
        if kind == "new_session":
            self.awaiting_session = False
            self.running = True
        elif kind == "script_finished" and not self.awaiting_session:
            # A stale finish of the previous run can arrive after our request: ignored above.
            if message.script_finished != _ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # st.rerun(): another run follows
                self.running = False
                self.runs_finished += 1


try:  # Streamlit's own protobuf classes decode the frames (always present where Streamlit runs).
    from streamlit.proto.BackMsg_pb2 import BackMsg as _BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg as _ForwardMsg
except ImportError:  # pragma: no cover - without Streamlit there is no app to test
    _BackMsg = _ForwardMsg = None


def _message_type(cls: Any, payload: bytes) -> tuple[str | None, Any]:
    try:
        message = cls.FromString(payload)
    except Exception:  # not a message we know: ignore it
        return None, None
    return message.WhichOneof("type"), message


_watches: weakref.WeakKeyDictionary[Page, _Watch] = weakref.WeakKeyDictionary()


def _watch(page: Page, touch: bool = False) -> _Watch:
    watch = _watches.get(page)
    if watch is None:
        watch = _watches[page] = _Watch(touch)
        page.on("websocket", watch.on_websocket)
    return watch


def _remaining_ms(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


_SETTLE_JS = """([quietMs, maxMs]) => new Promise((resolve) => {
  const start = performance.now();
  let last = start;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  const tick = () => {
    const now = performance.now();
    if (now - last >= quietMs || now - start >= maxMs) { observer.disconnect(); resolve(now - last >= quietMs); }
    else setTimeout(tick, 20);
  };
  setTimeout(tick, 20);
})"""


def wait_for_idle(page: Page, timeout_ms: float = DEFAULT_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished every requested rerun and the browser has rendered it.

    Server side: the websocket saw a final `script_finished` after the last `rerun_script`.
    Browser side: stApp is `notRunning` (or `compilationError`) and CONNECTED, then the DOM has been quiet for
    SETTLE_QUIET_MS. Raises AssertionError on timeout or if the websocket closed.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    watch = _watch(page)
    if watch.from_start:
        while not watch.idle:
            if watch.closed:
                raise AssertionError(f"Streamlit websocket closed (server stopped or crashed?): {watch.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"Streamlit still running after {timeout_ms / 1000:.0f} s: {watch.describe()}")
            page.wait_for_timeout(20)  # also lets Playwright deliver websocket events
    try:
        page.locator(APP_IDLE).wait_for(state="attached", timeout=_remaining_ms(deadline))
    except Exception as exc:
        state = page.evaluate(f"""() => {{ const a = document.querySelector('{APP}');
            return a ? [a.dataset.testScriptState, a.dataset.testConnectionState] : 'no stApp element'; }}""")
        raise AssertionError(
            f"Streamlit page not idle after {timeout_ms / 1000:.0f} s: "
            f"stApp script/connection state {state}; {watch.describe()}"
        ) from exc
    page.evaluate(_SETTLE_JS, [SETTLE_QUIET_MS, SETTLE_MAX_MS])


@contextlib.contextmanager
def expect_rerun(page: Page, *, required: bool = True, timeout_ms: float = DEFAULT_TIMEOUT_MS) -> Iterator[None]:
    """Wrap an interaction; on exit wait for the rerun it triggers and for idle.

    required=True: the action must request a rerun (AssertionError otherwise).
    required=False: a rerun may follow; wait NO_RERUN_GRACE_MS for one to start.

        with expect_rerun(page):
            page.get_by_role("radio", name="2").click()
    """
    watch = _watch(page)
    before = watch.reruns_requested
    yield
    if not watch.from_start:  # page not opened through goto(): protocol unknown, be patient
        page.wait_for_timeout(NO_RERUN_GRACE_MS)
        wait_for_idle(page, timeout_ms)
        return
    deadline = time.monotonic() + (timeout_ms if required else NO_RERUN_GRACE_MS) / 1000
    while watch.reruns_requested == before and time.monotonic() < deadline and not watch.closed:
        page.wait_for_timeout(20)
    if required and watch.reruns_requested == before:
        raise AssertionError(
            "the interaction did not trigger a Streamlit rerun (pass rerun=False / required=False if none is expected)"
        )
    wait_for_idle(page, timeout_ms)


def goto(page: Page, url: str) -> None:
    """Load a Streamlit page and wait until its first run is finished and rendered."""
    watch = _watch(page)
    watch.reset()
    watch.from_start = True
    page.goto(url)
    wait_for_idle(page, NAVIGATION_TIMEOUT_MS)


def click_button(page: Page, label: str, *, exact: bool = True, rerun: bool = True) -> None:
    """Tap (touch pages) or click the visible button named `label` (st.button, st.form_submit_button),
    then wait for the rerun. rerun=False for buttons that do not rerun (e.g. a download)."""
    button = page.get_by_role("button", name=label, exact=exact).filter(visible=True)
    with expect_rerun(page, required=rerun):
        if _watch(page).touch:
            button.tap()
        else:
            button.click()


def fill_text(page: Page, label: str, value: str, *, exact: bool = True) -> Locator:
    """Type `value` into the visible text input/area labelled `label` and commit it like a user
    (blur: Enter would submit a form). Outside a form this reruns the app, and we wait for it;
    inside st.form nothing is sent until the submit button."""
    box = page.get_by_label(label, exact=exact).filter(visible=True)
    if box.input_value() == value:
        return box
    in_form = box.locator("xpath=ancestor::*[@data-testid='stForm']").count() > 0
    with expect_rerun(page, required=not in_form):
        box.fill(value)
        box.blur()
    return box


def expect_text(
    page: Page, text: str | re.Pattern[str], *, exact: bool = False, timeout_ms: float = DEFAULT_TIMEOUT_MS
) -> Locator:
    """Assert that `text` (substring unless exact; or a regex) is visible, retrying until timeout.
    Hidden copies (e.g. in inactive tabs or collapsed expanders) do not count."""
    locator = page.get_by_text(text, exact=exact).filter(visible=True).first
    expect(locator).to_be_visible(timeout=timeout_ms)
    return locator


def expect_no_exception(page: Page) -> None:
    """Assert that the page shows no Streamlit error now: no exception box
    ([data-testid="stException"]) and no compile-error dialog (stApp in state `compilationError`,
    e.g. a SyntaxError, shown as a stDialog, not as stException). Call it after goto/an action,
    which already waited for the run to finish."""
    shown = page.locator(EXCEPTION).all_inner_texts()
    if page.locator(f'{APP}[data-test-script-state="compilationError"]').count():
        shown.append("compilation error: " + " ".join(page.locator('[data-testid="stDialog"]').all_inner_texts()))
    assert not shown, f"Streamlit shows {len(shown)} error(s): {shown}{_server_traceback(page)}"


# --- the taps every page test repeats -------------------------------------------------------------
# One copy here, so that a fix for a slow machine (CI) lands in every test at once.

OPTION_APPEARS_MS = 4_000  # a dropdown opened during a re-render can close again: reopen after this
CHOOSE_ATTEMPTS = 3


def _in_form(box: Locator) -> bool:
    return box.locator("xpath=ancestor::*[@data-testid='stForm']").count() > 0


def _shows(locator: Locator) -> bool:
    try:
        locator.wait_for(state="visible", timeout=OPTION_APPEARS_MS)
    except Exception:
        return False
    return True


def fill_in_form(page: Page, label: str, value: str) -> Locator:
    """Type into a text input inside an st.form: nothing reaches the server before the form's
    button, so there is no rerun to wait for (fill_text would wait NO_RERUN_GRACE_MS for one)."""
    box = page.get_by_label(label, exact=True).filter(visible=True)
    expect(box).to_be_visible()  # widgets can render a moment after the run is over (lazily loaded code)
    box.fill(value)
    box.blur()
    return box


def sign_in(page: Page, username: str, password: str | None = None, *, url: str | None = None) -> None:
    """Sign in on the sign-in screen (opening `url` first when given: a new, signed-out session)
    with the test accounts' password unless another is given, and wait until it took."""
    if url is not None:
        goto(page, url)
    fill_in_form(page, "User name", username)
    fill_in_form(page, "Password", PASSWORD if password is None else password)
    click_button(page, "Sign in")
    # In the menu, which starts collapsed on the form and review pages and on narrow screens
    # (ui/layout.py): drawn, if not on screen.
    expect(page.get_by_text("Signed in as")).to_have_count(1)


def show_menu(page: Page) -> None:
    """Open the menu (the sidebar) if it is collapsed, as a user taps the arrow at the top left;
    opening it sends nothing to the server."""
    arrow = page.locator('[data-testid="stExpandSidebarButton"]')
    if arrow.is_visible():
        arrow.tap() if _watch(page).touch else arrow.click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def open_page(page: Page, title: str) -> None:
    """Tap a menu entry (opening the menu first when it is collapsed): loading a URL would start
    a new, signed-out session."""
    show_menu(page)
    with expect_rerun(page):
        link = page.get_by_role("link", name=title, exact=True).filter(visible=True)
        if _watch(page).touch:
            link.tap()
        else:
            link.click()
    expect_no_exception(page)


def choose(page: Page, label: str, option: str, *, within: Locator | Page | None = None) -> None:
    """Pick `option` in the selectbox `label` as a user does: tap it open, tap the option.

    Outside a form the pick reruns the app and we wait for it; inside a form it is sent with the
    form's button. On a slow machine a dropdown opened while the page is still settling can be
    closed again by the re-render, and a long list only renders the options in view; so the
    option is also typed into the box's search field (which filters the list to it), and the
    whole pick is retried from a closed dropdown, at most CHOOSE_ATTEMPTS times.
    """
    box = (within or page).get_by_role("combobox", name=label, exact=True).filter(visible=True)
    expect(box).to_be_visible()
    if box.input_value() == option:
        return
    wanted = page.get_by_role("option", name=option, exact=True)
    touch = _watch(page).touch
    for attempt in range(1, CHOOSE_ATTEMPTS + 1):
        wait_for_idle(page)
        if touch:  # opening the list sends nothing to the server
            box.tap()
        else:
            box.click()
        if not _shows(wanted):
            page.keyboard.type(option)
        if not _shows(wanted):
            page.keyboard.press("Escape")
            if attempt == CHOOSE_ATTEMPTS:
                raise AssertionError(
                    f"option {option!r} never appeared in the selectbox {label!r} after {CHOOSE_ATTEMPTS} attempts"
                )
            continue
        with expect_rerun(page, required=not _in_form(box)):
            if touch:
                wanted.tap()
            else:
                wanted.click()
        break
    expect(box).to_have_value(option)
