"""Entry point for `python -m protocol`; see protocol.cli."""

import sys

from protocol.cli import main

sys.exit(main())
