import sys

from antialiased.export.cli import main

sys.exit(main())
