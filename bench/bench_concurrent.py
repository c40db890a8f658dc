"""Concurrent raters against a real `streamlit run` server: per-tap and per-submit time, throughput,
and lost saves counted in the database afterwards.

N rater sessions (default 30) each sign in, open a MADRS draft on the rate page
(`rate?assessment=ID`, as a reload or the worklist's button lands there), then all of them at
once, released by one barrier, tap the ten items and sign and submit with their password. Each
tap is a rerun that saves one answer, each submit an argon2 check plus complete-and-sign in one
transaction: the same server work a tablet causes.

How the sessions are driven: Streamlit 1.67's agent API (`POST /_stcore/agent/interact`,
switched on here with `--server.enableAgentApi=true` on the command line of the benchmark's
servers only; the shipped .streamlit/config.toml keeps it off). A request sets widget values
and fires a trigger through the browser's own rerun and callback path, on a real server
session, and answers when the run has settled; so the round trip is the server's time for that
rerun plus the encoding of one JSON snapshot and a loopback HTTP exchange. A browser per session
(Playwright, Chromium) would put 30-60 renderers on the same 2 cores as the server and measure
them instead; a raw websocket client would have to reimplement Streamlit's protobuf protocol
and its rerun bookkeeping. The JSON snapshot is work a browser session does not cause (it gets
protobuf deltas), so the figures are upper bounds on server time.

The floor, measured in the same run on the same server: one session alone, tapping and
submitting with nothing else running. The ratio is the concurrent median over that floor.

`--processes K` starts K servers on consecutive ports, all on the same database file; sessions
are split between them by port (session i goes to server i mod K).

Saves are checked twice. After EACH tap the client reads the page as a rater would: the item
shows the value tapped, the progress bar counts it, and no error box is on the page; a tap that
fails this is logged with what the page said (`unsaved_taps`). After the run the database is
checked: every session's assessment must be signed, with its ten answers holding the values that
session sent; `lost` counts those that are not. The client does not tap again after a "not
saved" message (a rater would), so a refused save shows up in both counts instead of being
papered over.

What these checks found (60 sessions on one process): taps the page showed as "not saved: the
database stayed busy for more than 15 s", each a draft left with 9 of 10 answers and no
signature. The sessions of one server queued for SQLite's write lock through its busy handler,
which polls; with 60 writers some lost that race for longer than the busy timeout. The app now
queues the writers of a process on a lock of its own before BEGIN IMMEDIATE (db/connection.py),
and the same loads save everything.

Loads given together (`--sessions-list`) share one seeded database and one server start (each
load has its own raters and drafts), which keeps the quick report short.

    python bench/bench_concurrent.py [--sessions 30] [--processes 1] [--sessions-list 10,30,60] [--loads 5x1,10x2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "tidewater violet lantern 7"  # passes db/passwords.py (not on the common list)
SCALE = "madrs"
ITEMS = 10
REQUEST_TIMEOUT = 300.0
SIGN_IN_ATTEMPTS = 40


# --------------------------------------------------------------------------- database


def seed(path: Path, sessions: int) -> list[dict]:
    """A site, one rater and one enrolled participant per session (plus session 0, the floor's),
    each with a MADRS draft, through db/ functions. Returns [{username, assessment_id}, ...]."""
    from db import connect, init_database
    from db.assessments import start_assessment
    from db.participants import create_participant
    from db.permissions import system_actor
    from db.sites import create_site
    from db.users import create_user

    init_database(path)
    out = []
    with closing(connect(path)) as db:
        system = system_actor("bench")
        create_site(db, system, "S1", "Bench site")
        coordinator = create_user(db, system, "bench.coord", "coordinator", PASSWORD, site="S1")
        for n in range(sessions + 1):
            rater = create_user(db, system, f"rater{n:03d}", "rater", PASSWORD, site="S1")
            participant = create_participant(db, coordinator, f"C{n:04d}", "S1", status="enrolled")
            draft = start_assessment(db, rater, participant["id"], "baseline", SCALE, "clinician")
            out.append({"username": rater["username"], "assessment_id": draft["id"]})
    return out


def count_lost(path: Path, plans: list[dict]) -> tuple[int, list[str]]:
    """How many sessions' saves are not in the database as sent: the assessment signed, its ten
    answers present with the values the session tapped. Returns (lost, reasons)."""
    from db import unit_of_work
    from db.assessments import load_assessment

    lost, reasons = 0, []
    with unit_of_work(path, write=False) as db:
        for plan in plans:
            try:
                record = load_assessment(db, plan["assessment_id"])
            except Exception:  # noqa: BLE001  (any failure to read it back counts as lost)
                record = None
            answers = record["responses"] if record else {}
            wanted = {f"{SCALE}_{i}": v for i, v in plan["values"].items()}
            problem = None
            if record is None:
                problem = "assessment missing"
            elif record["status"] != "signed" or not record["signatures"]:
                problem = f"status {record['status']}, {len(record['signatures'])} signature(s)"
            elif any(answers.get(item) != value for item, value in wanted.items()):
                problem = "answers differ from the taps"
            if problem:
                lost += 1
                reasons.append(f"{plan['username']} (assessment {plan['assessment_id']}): {problem}")
    return lost, reasons


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_servers(path: Path, count: int, logdir: Path) -> list[tuple[subprocess.Popen, int]]:
    """`count` `streamlit run app.py` processes on the same database file, agent API on for them."""
    env = dict(os.environ, SCALEBOOK_DB=str(path), SCALEBOOK_IDLE_TIMEOUT_MINUTES="600")
    servers = []
    for n in range(count):
        port = free_port()
        log = open(logdir / f"server-{n}.log", "wb")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "streamlit"),
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless=true",
                "--server.enableAgentApi=true",
                "--server.agentWaitTimeout=300",
                "--server.agentMaxSessions=1000",
                "--browser.gatherUsageStats=false",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        servers.append((proc, port))
    deadline = time.monotonic() + 90
    for proc, port in servers:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server on port {port} exited; see {logdir}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start within 90 s; see {logdir}")
            time.sleep(0.3)
    return servers


def stop_servers(servers) -> None:
    for proc, _port in servers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _port in servers:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------- one rater session


class Refused(Exception):
    """The server answered, but not with what the rater needed."""


def _nodes(tree, out: dict) -> dict:
    if isinstance(tree, dict):
        if "key" in tree and "type" in tree:
            out[tree["key"]] = tree
        for value in tree.values():
            _nodes(value, out)
    elif isinstance(tree, list):
        for value in tree:
            _nodes(value, out)
    return out


@dataclass
class Rater:
    """One browser-like session on one server."""

    port: int
    plan: dict
    http: requests.Session = field(default_factory=requests.Session)
    session_id: str | None = None
    snapshot: dict = field(default_factory=dict)
    taps: list[float] = field(default_factory=list)
    submit: float | None = None
    error: str | None = None
    sign_in_retries: int = 0
    resent: int = 0
    tap_problems: list[str] = field(default_factory=list)

    def post(self, body: dict) -> float:
        if self.session_id:
            body = {"session_id": self.session_id, **body}
        start = time.perf_counter()
        url = f"http://127.0.0.1:{self.port}/_stcore/agent/interact"
        try:
            response = self.http.post(url, json=body, timeout=REQUEST_TIMEOUT)
        except requests.ConnectionError:
            # A kept-alive HTTP connection the busy server reset while this session waited (at the
            # barrier). Sent once more on a new connection, as a browser reconnects its socket, and
            # counted in the report: a tap sets the same value again and a second Sign and submit
            # finds the form signed, so resending changes nothing; the page read afterwards and the
            # database count still decide whether the answer was saved.
            self.resent += 1
            self.http.close()
            response = self.http.post(url, json=body, timeout=REQUEST_TIMEOUT)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise Refused(f"HTTP {response.status_code}: {response.text[:200]}")
        self.snapshot = response.json()
        self.session_id = self.snapshot["session_id"]
        if self.snapshot.get("status") != "ready":
            raise Refused(f"the app raised ({self.snapshot.get('status')})")
        return elapsed

    def action(self, label: str) -> str | None:
        return next((a["key"] for a in self.snapshot.get("actions", []) if a["label"].startswith(label)), None)

    def texts(self) -> str:
        return json.dumps(self.snapshot.get("tree"))

    def sign_in(self) -> None:
        self.post({})
        for _ in range(SIGN_IN_ATTEMPTS):
            user, password, button = self.action("User name"), self.action("Password"), self.action("Sign in")
            if not (user and password and button):
                raise Refused("no sign-in form")
            self.post({"widget_state": {user: self.plan["username"], password: PASSWORD}, "trigger": {"key": button}})
            if self.action("Sign out"):
                return
            if "Many sign-ins are being checked" not in self.texts():
                raise Refused("sign-in refused")
            self.sign_in_retries += 1  # the process's password-check slots were busy: try again, as a user would
            time.sleep(0.5 + random.random())
        raise Refused("sign-in stayed busy")

    def open_form(self) -> None:
        self.post({"page": "rate", "query_params": {"assessment": [str(self.plan["assessment_id"])]}})
        if f"v:{self.plan['assessment_id']}:{SCALE}_1" not in _nodes(self.snapshot.get("tree"), {}):
            raise Refused("the MADRS form did not open")

    def rate_and_submit(self) -> None:
        aid = self.plan["assessment_id"]
        for item, value in self.plan["values"].items():
            key = f"v:{aid}:{SCALE}_{item}"
            options = _nodes(self.snapshot["tree"], {}).get(key, {}).get("props", {}).get("options")
            if not options:
                raise Refused(f"item {item} is not on the form")
            self.taps.append(self.post({"widget_state": {key: options[value]}}))
            self.check_tap(key, options[value], item)
        password, button = self.action("Your password"), self.action("Sign and submit")
        if not (password and button):
            raise Refused("no Sign and submit after ten answers")
        values = {password: PASSWORD}
        confirm = self.action("I have checked the flagged ratings")  # the form asks when answers look inconsistent
        if confirm:
            values[confirm] = True
        self.submit = self.post({"widget_state": values, "trigger": {"key": button}})
        if self.action("Sign and submit"):
            shown = "; ".join(self.messages()) or "no message"
            raise Refused(f"the form is still open after Sign and submit ({shown})")

    def check_tap(self, key: str, option, item: int) -> None:
        """What the page shows after one tap, read as a rater would: the item holds the value tapped,
        the progress bar counts it ("N of 10 items rated"), and no error box is on the page. A tap
        that fails any of these is logged in `tap_problems` (the run goes on, as a rater who did
        not look would), so a lost save can be traced to the tap that lost it."""
        node = _nodes(self.snapshot.get("tree"), {}).get(key)
        shown = None if node is None else node.get("value")
        progress = self.progress()
        # Safety-alert boxes are the app's normal answer to a high item 10 (the values are random), not errors.
        errors = [m for kind, m in self.boxes() if kind in ("error", "exception") and "safety alert" not in m.lower()]
        wanted = f"{item} of {ITEMS} items rated"
        if shown != option or progress != wanted or errors:
            self.tap_problems.append(
                f"tap {item}: item shows {shown!r} (tapped {option!r}); progress {progress!r} (expected {wanted!r})"
                + (f"; error on the page: {' | '.join(errors)}" if errors else "; no error on the page")
            )

    def nodes(self, *types: str):
        """Every element of the page snapshot whose type is one of `types`, in page order."""

        def walk(node):
            if isinstance(node, dict):
                if node.get("type") in types:
                    yield node
                for value in node.values():
                    yield from walk(value)
            elif isinstance(node, list):
                for value in node:
                    yield from walk(value)

        yield from walk(self.snapshot.get("tree"))

    def progress(self) -> str | None:
        """The progress bar's text ("3 of 10 items rated"), or None when the page has none."""
        return next((str((n.get("props") or {}).get("text", "")) for n in self.nodes("progress")), None)

    def boxes(self) -> list[tuple[str, str]]:
        """Every error, warning and exception box on the page: (kind, text)."""
        found = []
        for node in self.nodes("error", "warning", "exception"):
            props = node.get("props") or {}
            found.append((node["type"], str(props.get("body") or props.get("message") or props)))
        return found

    def messages(self) -> list[str]:
        """The error and warning boxes on the page (st.error, st.warning), as the rater reads them."""
        return [str((n.get("props") or {}).get("body", "")) for n in self.nodes("error", "warning")]


# --------------------------------------------------------------------------- one load


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class LoadResult:
    sessions: int
    processes: int
    taps: list[float]
    submits: list[float]
    floor_taps: list[float]
    floor_submits: list[float]
    seconds: float
    failed: int
    lost: int
    sign_in_retries: int
    problems: list[str]
    unsaved_taps: int = 0
    resent: int = 0

    def summary(self) -> dict:
        tap50 = statistics.median(self.taps) if self.taps else float("nan")
        floor50 = statistics.median(self.floor_taps) if self.floor_taps else float("nan")
        return {
            "sessions": self.sessions,
            "processes": self.processes,
            "tap_median_ms": tap50 * 1000,
            "tap_p95_ms": percentile(self.taps, 0.95) * 1000,
            "submit_median_ms": (statistics.median(self.submits) if self.submits else float("nan")) * 1000,
            "submit_p95_ms": percentile(self.submits, 0.95) * 1000,
            "floor_tap_median_ms": floor50 * 1000,
            "floor_submit_median_ms": (statistics.median(self.floor_submits) if self.floor_submits else float("nan"))
            * 1000,
            "taps_per_second": len(self.taps) / self.seconds if self.seconds else 0.0,
            "submits_per_second": len(self.submits) / self.seconds if self.seconds else 0.0,
            "seconds": self.seconds,
            "failed": self.failed,
            "lost": self.lost,
            "sign_in_retries": self.sign_in_retries,
            "unsaved_taps": self.unsaved_taps,
            "resent": self.resent,
            "problems": self.problems[:10],
        }


def run_loads(loads: list[tuple[int, int]], seed_value: int = 1, workdir: Path | None = None) -> list[LoadResult]:
    """Each load is (sessions, server processes). Seed one database with a rater and a draft for
    every session of every load (plus the floor's), start as many servers on it as the largest
    load needs, once, measure the floor (one session alone on server 0), then each load in turn:
    its raters, split over its first `processes` servers by port, sign in and open their forms,
    and at a barrier all tap and submit at once. Stop the servers and count each load's lost
    saves in the database. One seeding and one server start for all loads keeps the quick report
    short (an idle server costs the others nothing); each load has its own raters and drafts, so
    one load's saves never count for another."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="scalebook-concurrent-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"concurrent-{'-'.join(f'{n}x{p}' for n, p in loads)}.db"
    for old in workdir.glob(path.name + "*"):  # a rerun in the same --dir: the file and its side files
        old.unlink()
    rng = random.Random(seed_value)
    plans = seed(path, sum(n for n, _ in loads))
    for plan in plans:
        plan["values"] = {i: rng.randint(0, 6) for i in range(1, ITEMS + 1)}
    servers = start_servers(path, max(p for _, p in loads), workdir)
    measured: list[tuple[int, int, list[Rater], float]] = []
    try:
        floor = Rater(servers[0][1], plans[0])
        floor.sign_in()
        floor.open_form()
        floor.rate_and_submit()
        first = 1
        for sessions, processes in loads:
            group = plans[first : first + sessions]
            raters = [Rater(servers[n % processes][1], plan) for n, plan in enumerate(group)]
            first += sessions
            measured.append((sessions, processes, raters, _drive(raters)))
    finally:
        stop_servers(servers)
    results = []
    for sessions, processes, raters, seconds in measured:
        lost, reasons = count_lost(path, [r.plan for r in raters])
        problems = (
            [f"{r.plan['username']}: {p}" for r in raters for p in r.tap_problems]
            + [f"{r.plan['username']}: {r.error}" for r in raters if r.error]
            + reasons
        )
        results.append(
            LoadResult(
                sessions,
                processes,
                [t for r in raters for t in r.taps],
                [r.submit for r in raters if r.submit is not None],
                floor.taps,
                [floor.submit] if floor.submit is not None else [],
                seconds,
                sum(1 for r in raters if r.error),
                lost,
                sum(r.sign_in_retries for r in raters),
                problems,
                sum(len(r.tap_problems) for r in raters),
                sum(r.resent for r in raters),
            )
        )
    return results


def _drive(raters: list[Rater]) -> float:
    """Sign every rater in and open its form (each in its own thread), then release all of them
    at once to tap and submit; the seconds from the release until the last one is done."""
    barrier = threading.Barrier(len(raters) + 1)

    def drive(rater: Rater) -> None:
        try:
            rater.sign_in()
            rater.open_form()
        except (Refused, requests.RequestException) as exc:
            rater.error = f"setup: {exc}"
        try:
            barrier.wait(timeout=600)
        except threading.BrokenBarrierError:
            rater.error = rater.error or "the other sessions never got ready"
            return
        if rater.error:
            return
        try:
            rater.rate_and_submit()
        except (Refused, requests.RequestException) as exc:
            rater.error = str(exc)

    threads = [threading.Thread(target=drive, args=(r,), daemon=True) for r in raters]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=600)
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def run_load(sessions: int, processes: int = 1, seed_value: int = 1, workdir: Path | None = None) -> LoadResult:
    """One load on its own servers (run_loads with one load)."""
    return run_loads([(sessions, processes)], seed_value, workdir)[0]


def describe(result: LoadResult) -> str:
    s = result.summary()
    return (
        f"{s['sessions']:>3} sessions, {s['processes']} process(es): tap median {s['tap_median_ms']:7.1f} ms "
        f"p95 {s['tap_p95_ms']:7.1f} ms (alone {s['floor_tap_median_ms']:.1f} ms); submit median "
        f"{s['submit_median_ms']:7.1f} ms p95 {s['submit_p95_ms']:7.1f} ms (alone "
        f"{s['floor_submit_median_ms']:.1f} ms); {s['taps_per_second']:.1f} taps/s, "
        f"{s['submits_per_second']:.2f} submits/s over {s['seconds']:.1f} s; taps the page showed as not saved "
        f"{s['unsaved_taps']}; failed {s['failed']}, lost {s['lost']} (checked in the database)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="concurrent rater sessions (default 30)")
    parser.add_argument("--processes", type=int, default=1, help="server processes on the same database (default 1)")
    parser.add_argument(
        "--sessions-list", help="several loads in turn on --processes servers, e.g. 10,30,60 (overrides --sessions)"
    )
    parser.add_argument(
        "--loads",
        help="several loads in turn, each SESSIONSxPROCESSES, on one set of servers, e.g. 5x1,10x1,10x2 "
        "(overrides --sessions, --sessions-list and --processes)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="keep the database and server logs here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.loads:
        loads = [(int(n), int(p)) for n, p in (item.split("x") for item in args.loads.split(","))]
    else:
        counts = [int(n) for n in args.sessions_list.split(",")] if args.sessions_list else [args.sessions]
        loads = [(n, args.processes) for n in counts]
    results = []
    for result in run_loads(loads, args.seed, args.dir):
        print(describe(result), flush=True)
        for problem in result.problems:
            print(f"    {problem}")
        results.append(result.summary())
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if any(r["failed"] or r["lost"] or r["unsaved_taps"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
