"""The benchmark report's concurrent raters, in a tiny configuration: the code path of
`make bench` (bench/report.py running bench/bench_concurrent.py against a real `streamlit run`
server) saves every rating, read on the page after each tap and checked in the database
afterwards, and the table carries the row.

The whole quick benchmark (`BENCH_QUICK=1 make bench`) takes minutes and is not run here."""

from __future__ import annotations

from bench import report


def test_concurrent_raters_lose_no_save_and_the_table_has_the_row(tmp_path):
    with open(tmp_path / "bench.log", "w") as log:
        rows, failures = report.concurrent_rows(((3, 1),), log, tmp_path)
    log_text = (tmp_path / "bench.log").read_text()
    assert failures == [], log_text
    taps = [r for r in rows if r["figure"] == "3 concurrent raters, 1 server process: per tap"]
    assert len(taps) == 1, rows
    assert taps[0]["lost"] == 0 and taps[0]["failed"] == 0
    assert "taps shown as not saved 0; failed 0, lost 0 (checked in the database)" in taps[0]["note"]
    assert taps[0]["median"] > 0 and taps[0]["floor"] > 0
    table = report.table(rows)
    assert "| 3 concurrent raters, 1 server process: per tap |" in table
    assert "| 3 concurrent raters, 1 server process: per submit |" in table
