"""Server time of the rater's form: one tap (a rerun that saves one answer) and one submit.

Runs the real page (pages/rate.py) in Streamlit's AppTest, in this process, against a database
of P participants x T timepoints x S scales (default 1,000 x 20 x 4 = 80,000 assessments), and
the same widgets on a bare Streamlit page with no database and no engine (the floor), in the
same run. Prints median and p95 per tap and per submit and the ratio of medians.

AppTest's own overhead (building the element tree) is in both numbers, so the ratio is
conservative; the absolute tap time is an upper bound on what the server spends per tap.

    python bench/bench_form.py [--quick] [--taps 200] [--submits 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from bench import results  # noqa: E402
from bench.bench_storage import build_history_db  # noqa: E402

PASSWORD = "benchmark password"

FLOOR_PAGE = """
import streamlit as st
st.subheader("MADRS - P00001")
st.caption("header")
st.toggle("Hide the live total", key="hide")
st.info("instructions")
for n in range(1, 11):
    with st.container(border=True, key=f"item-{n}"):
        st.markdown(f"**{n}. Item**")
        st.caption("What the item rates")
        with st.expander("Interview guide"):
            st.write("guide text")
        st.radio(f"Rating {n}", list(range(7)), index=None, format_func=str,
                 captions=["anchor text"] * 7, key=f"v{n}", label_visibility="collapsed")
        st.checkbox("Not assessed", key=f"na{n}")
answered = sum(st.session_state.get(f"v{n}") is not None for n in range(1, 11))
st.progress(answered / 10, text=f"{answered} of 10 items rated")
st.markdown("**Total:** - · **Band:** -")
with st.form("submit"):
    st.text_input("password", type="password")
    st.form_submit_button("Sign and submit")
"""


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].value}")
    return elapsed


def signed_in(script: Path, rater: dict, assessment_id: int) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=60)
    from db.users import SESSION_FIELDS  # what ui.session keeps of a signed-in account

    at.session_state["signed_in_user"] = {k: rater.get(k) for k in SESSION_FIELDS}
    at.session_state["last_activity"] = time.time()
    at.query_params["assessment"] = str(assessment_id)
    return at


def rating_radio(at: AppTest, item_id: str):
    return next(r for r in at.radio if r.key and r.key.startswith("v:") and r.key.endswith(f":{item_id}"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--timepoints", type=int, default=20)
    parser.add_argument("--scales", type=int, default=4)
    parser.add_argument("--taps", type=int, default=200, help="timed taps on each page (default 200)")
    parser.add_argument("--submits", type=int, default=20, help="timed submits (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="50 participants, 60 taps, 5 submits")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON rows (bench/results.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.participants, args.taps, args.submits = 50, 60, 5

    workdir = Path(tempfile.mkdtemp(prefix="scalebook-form-bench-"))
    path = workdir / "bench.db"
    os.environ["SCALEBOOK_DB"] = str(path)
    os.environ["SCALEBOOK_IDLE_TIMEOUT_MINUTES"] = "600"
    build_seconds, counts = build_history_db(args, path)

    from db import assessments, users  # noqa: E402  (after SCALEBOOK_DB is set)
    from db.connection import connect, unit_of_work

    with closing(connect(path)) as db:
        rater = users.get_user(db, "bench.rater")
    print(
        f"database: {counts['assessments']:,} assessments, {counts['item_responses']:,} responses "
        f"(built in {build_seconds:.1f} s)"
    )

    # --- taps: the real form
    with unit_of_work() as db:
        draft = assessments.start_assessment(db, rater, 1, "baseline", "madrs", "clinician")
    at = signed_in(ROOT / "pages" / "rate.py", rater, draft["id"])
    at.run()
    real = []
    for n in range(args.taps):
        rating_radio(at, f"madrs_{n % 10 + 1}").set_value((n // 10) % 7)
        real.append(timed_run(at))

    # --- taps: the floor
    floor_at = AppTest.from_string(FLOOR_PAGE, default_timeout=60)
    floor_at.run()
    floor = []
    for n in range(args.taps):
        floor_at.radio(key=f"v{n % 10 + 1}").set_value((n // 10) % 7)
        floor.append(timed_run(floor_at))

    # --- submits (password check with argon2 + complete + sign in one transaction)
    submits = []
    for n in range(args.submits):
        with unit_of_work() as db:
            a = assessments.start_assessment(db, rater, 1, f"bench_submit_{n}", "madrs", "clinician")
            for item in range(1, 11):
                a = assessments.save_draft_response(db, rater, a["id"], f"madrs_{item}", 2)
        sub = signed_in(ROOT / "pages" / "rate.py", rater, a["id"])
        sub.run()
        next(t for t in sub.text_input if t.label.startswith("Your password")).input(PASSWORD)
        next(b for b in sub.button if b.label == "Sign and submit").click()
        submits.append(timed_run(sub))
        with unit_of_work(write=False) as db:
            if assessments.load_assessment(db, a["id"])["status"] != "signed":
                raise SystemExit("a benchmark submit did not sign the assessment")

    # --- the submit's floor: the argon2 check alone (the hasher the app uses), no page, no database
    password_hash = users.hasher.hash(PASSWORD)
    argon2_alone = []
    for _ in range(args.submits):
        start = time.perf_counter()
        users.hasher.verify(password_hash, PASSWORD)
        argon2_alone.append(time.perf_counter() - start)

    real_median, real_p95 = stats(real)
    floor_median, floor_p95 = stats(floor)
    submit_median, submit_p95 = stats(submits)
    print(f"tap on the MADRS form (rerun + save)   median {real_median * 1000:7.1f} ms   p95 {real_p95 * 1000:7.1f} ms")
    print(
        f"tap on a bare page, same widgets       median {floor_median * 1000:7.1f} ms   p95 {floor_p95 * 1000:7.1f} ms"
    )
    print(f"ratio form / bare page                 {real_median / floor_median:7.2f} x")
    print(
        f"submit (argon2 check, complete, sign)  median {submit_median * 1000:7.1f} ms   p95 {submit_p95 * 1000:7.1f} ms"
    )
    results.write(
        args.json,
        [
            results.row(
                f"form: one tap, rerun + save (AppTest, {args.participants:,} participants)",
                real,
                floor,
                "bare page, same widgets",
            ),
            results.row(
                "form: sign and submit (argon2 check, complete, sign; AppTest)",
                submits,
                argon2_alone,
                "argon2 password check alone",
            ),
        ],
    )
    verdict = "OK" if real_median < 0.100 else "TOO SLOW"
    print(f"budget: a tap must stay well under 100 ms of server time: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
