"""`python -m db`: see db/cli.py."""

import sys

from db.cli import main

sys.exit(main())
