import sys

from antialiased.finetune.cli import main

sys.exit(main())
