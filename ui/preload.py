"""Get the server process ready before the first visitor arrives.

`streamlit run app.py` imports app.py once as the web server's module, before the server answers
anything (its health check included); every browser session then runs app.py as a script. Left
alone, the first script run pays for everything a page needs the first time: importing our
packages and what they import (pandas, Altair, pyarrow, jsonschema, argon2), opening and
checking the database (migrations, the audit trail against its witness, the app lock), loading
and validating the protocol and the scale definitions. The first visitor after a restart waited
for all of it on the sign-in screen.

`prepare_server` does that work at import time instead, in the same process and through the same
cached functions the pages call (ui.session.ensure_database, ui.study.current_protocol, the
scale registry), so a page later finds it done: there is no second cache, only the existing
ones filled earlier. It then starts the cohort warm-up (ui/warmup.py) as the first run would
have. Nothing here writes trial data; a failure is logged and left for the page to report, as
it would have been without preloading.
"""

from __future__ import annotations

import ast
import gc
import importlib
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Imported by Streamlit itself when a page first draws a table or a chart; named here because no
#: page imports them by name.
LAZY_IMPORTS = ("pyarrow", "altair", "pandas", "streamlit.elements.vega_charts", "streamlit.elements.arrow")


def page_imports(root: Path) -> list[str]:
    """Every module app.py and the pages under pages/ import by name (top-level `import` and
    `from ... import` statements), in file order, without duplicates."""
    names: list[str] = []
    for path in [root / "app.py", *sorted((root / "pages").glob("*.py"))]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
                # `from ui import cohort_data` names a module, not an attribute
                names += [f"{node.module}.{alias.name}" for alias in node.names]
    return list(dict.fromkeys(names))


def _import(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False  # an attribute imported with `from x import y`, not a module
    return True


def prepare_server(root: Path) -> dict[str, float]:
    """Import what the pages need, open the database, load the protocol and the scales, and start
        the cohort warm-up, then exempt all of it from the collector Streamlit runs after every script
    run; returns how long each step took, in seconds (for the log)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for name in [*page_imports(root), *LAZY_IMPORTS]:
        try:
            _import(name)
        except Exception:  # a broken module is the page's to report, with its own message
            log.warning("Scalebook: preloading %s failed", name, exc_info=True)
    timings["imports"] = time.perf_counter() - started

    began = time.perf_counter()
    try:
        from db.connection import database_path
        from scales import registry
        from ui.session import ensure_database
        from ui.study import current_protocol
        from ui.warmup import start_warmup

        ensure_database()
        timings["database"] = time.perf_counter() - began
        protocol = current_protocol()
        registry()
        start_warmup(str(database_path()), protocol)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # st.stop() on a broken database or protocol: the first page says why
        log.warning("Scalebook: preparing the database and protocol failed; the pages will report it", exc_info=True)
    timings["collector"] = freeze_long_lived_objects()
    timings["total"] = time.perf_counter() - started
    return timings


def freeze_long_lived_objects() -> float:
    """Move every object alive now (modules, the protocol, the scale registry: what lives as long
    as the server) out of the garbage collector's way; returns the seconds it took.

    Streamlit runs a full collection after every script run (`runner.postScriptGC`, on by
    default; .streamlit/config.toml turns it off) and Python's own collector makes full
    collections now and then. A full collection walks every tracked object: with pandas, Altair
    and pyarrow imported that is over a hundred thousand objects (bench/bench_browser.py shows
    what a tap costs). `gc.freeze()` (Python's documented way to exempt start-up objects)
    leaves the collection to what the runs themselves create; nothing frozen is garbage, since
    it is all referenced by loaded modules and caches that live until the server stops."""
    began = time.perf_counter()
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()
    return time.perf_counter() - began


def prepare_and_log(root: Path) -> None:
    timings = prepare_server(root)
    log.info(
        "Scalebook: server prepared in %.2f s (%s)",
        timings["total"],
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"),
    )
