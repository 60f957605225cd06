"""`python -m antialiased.evaluate`: see antialiased.evaluate.cli."""

import sys

from antialiased.missing_packages import run_main

sys.exit(run_main("evaluate"))
