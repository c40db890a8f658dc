"""`python -m exports`: see exports/cli.py."""

import sys

from exports.cli import main

sys.exit(main())
