import sys

from antialiased.missing_packages import run_main

sys.exit(run_main("finetune"))
