"""`python -m antialiased.evaluate`: see antialiased.evaluate.cli."""

import sys

from antialiased.evaluate.cli import main

sys.exit(main())
