"""Entry point for `python -m scales`; see scales.cli."""

import sys

from scales.cli import main

sys.exit(main())
