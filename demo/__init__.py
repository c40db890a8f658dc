"""The synthetic demo study: `python -m demo` (or `make demo`) fills a new database with a living,
labelled-synthetic IV ketamine study through the app's own write functions (demo/build.py).

`build(path, seed=15, participants=40)` returns the demo accounts; the browser tests use it too."""

from demo.build import Account, DemoRefused, build

__all__ = ["Account", "DemoRefused", "build"]
