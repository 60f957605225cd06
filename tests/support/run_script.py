"""`python -m scripts.run` (what `make run` runs after its set-up) as the tests run it: started in a folder, read
until its banner says everything serves, stopped with SIGTERM at the end."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BANNER_END = "Ctrl-C stops everything"


@dataclass
class RunScript:
    """The running script: its process, its output lines so far, and its exit status once stopped."""

    process: subprocess.Popen
    output: list[str] = field(default_factory=list)
    status: int | None = None

    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def inference(self) -> str:
        """TorchServe's inference URL, from the banner."""
        return re.search(r"inference\s+(http://127\.0\.0\.1:\d+)/predictions", self.text).group(1)

    @property
    def probe(self) -> str:
        """The probe service's URL, from the banner."""
        return re.search(r"probe\s+(http://127\.0\.0\.1:\d+)/", self.text).group(1)


@contextlib.contextmanager
def run_script(options: list[str], cwd: Path, env: dict[str, str], timeout_s: float = 240) -> Iterator[RunScript]:
    """`python -m scripts.run OPTIONS` in `cwd`, once its banner is printed (it failed the test if it exits or takes
    longer than `timeout_s`); SIGTERM at the end, its exit status in `status`."""
    command = [sys.executable, "-m", "scripts.run", *options]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = RunScript(process)
    threading.Thread(target=lambda: run.output.extend(iter(process.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout_s
        while not any(BANNER_END in line for line in run.output):
            assert process.poll() is None, run.text[-5000:]
            assert time.monotonic() < deadline, run.text[-5000:]
            time.sleep(0.5)
        yield run
    finally:
        process.send_signal(signal.SIGTERM)
        run.status = process.wait(90)
