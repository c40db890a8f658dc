"""`python -m demo [--db PATH] [--seed N] [--participants N] [--protocol FILE]`: build the demo study."""

import sys

from demo.cli import main

sys.exit(main())
