"""`make gpu-bundle`: what `make gpu-check` needs on an offline GPU machine, in one archive to carry there.

The GPU machine starts bare and has no network; its python3 (3.12) has torch, torchvision, numpy, Pillow,
PyYAML, httpx, scikit-image, pytest and pytest-timeout, but neither TorchServe, pydantic, simplejpeg nor
Java. The archive build/gpu-bundle/gpu-bundle.tar.xz holds:
- site/: PACKAGES (versions from requirements.txt) installed for CPython 3.12, manylinux x86_64, with
  pip --target; scripts/gpu-check.sh puts it on PYTHONPATH. TorchServe's frontend jar is rewritten with
  its entries stored instead of deflated (the same classes), so that xz compresses them: 41 MB -> ~17 MB;
- jre/: a Java 17 runtime made by jlink from this machine's JDK (openjdk-17-jdk-headless) with the
  modules the frontend uses (JAVA_MODULES, found with jdeps); scripts/gpu-check.sh sets JAVA_HOME to it.
Prints the archive's size and the size of everything the device tool would send (working tree + archive).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

BUNDLE = Path("build/gpu-bundle/gpu-bundle.tar.xz")
# What the handler and TorchServe need beyond the GPU image's own packages (pydantic with its own needs).
PACKAGES = (
    "torchserve",
    "torch-model-archiver",
    "simplejpeg",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
)
TARGET_PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:"] + [
    f"--platform={tag}_x86_64" for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014", "manylinux1")
]
# jdeps --print-module-deps over the classes of TorchServe 0.12's model-server.jar.
JAVA_MODULES = (
    "java.base,java.compiler,java.desktop,java.management.rmi,java.naming,java.prefs,java.scripting,java.sql,"
    "jdk.sctp,jdk.unsupported"
)
FRONTEND_JAR = Path("ts/frontend/model-server.jar")
TRAVEL_LIMIT = 64 * 2**20  # what the device tool sends in one call


def pinned_versions(requirements: Path = Path("requirements.txt")) -> dict[str, str]:
    """Package name -> version of every `name==version` line, following `-r other.txt` includes."""
    text = requirements.read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.MULTILINE))
    for included in re.findall(r"^-r\s+(\S+)", text, flags=re.MULTILINE):
        pins |= pinned_versions(requirements.parent / included)
    return pins


def bundle_version(name: str, pins: dict[str, str]) -> str:
    """The pinned version, or for a package pulled in by a pinned one, the version installed here."""
    return pins.get(name) or importlib.metadata.version(name)


def install_site(site: Path) -> None:
    """pip-install PACKAGES for the GPU machine's Python into `site`, the frontend jar stored uncompressed."""
    pins = pinned_versions()
    specs = [f"{name}=={bundle_version(name, pins)}" for name in PACKAGES]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(site)]
    subprocess.run([*command, *TARGET_PLATFORM, *specs], check=True)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts for this machine's Python: not used
    store_uncompressed(site / FRONTEND_JAR)


def store_uncompressed(jar: Path) -> None:
    """Rewrite a zip file with the same entries, stored rather than deflated."""
    stored = jar.with_suffix(".stored")
    with zipfile.ZipFile(jar) as source, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            entry.compress_type = zipfile.ZIP_STORED
            target.writestr(entry, content)
    stored.replace(jar)


def build_jre(jre: Path) -> None:
    """A Java 17 runtime with JAVA_MODULES, made by this machine's jlink."""
    jlink = shutil.which("jlink")
    if jlink is None:
        sys.exit("make gpu-bundle needs a JDK 17 with jlink and jmods: apt-get install openjdk-17-jdk-headless")
    version = subprocess.run([jlink, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if not version.startswith("17."):
        sys.exit(f"jlink is version {version}; TorchServe 0.12 runs on Java 17: put a JDK 17's bin first on PATH")
    subprocess.run([jlink, "--add-modules", JAVA_MODULES, "--strip-debug", "--no-man-pages", "--no-header-files",
                    "--compress=0", "--output", str(jre)], check=True)  # fmt: skip
    subprocess.run([str(jre / "bin" / "java"), "-version"], check=True, capture_output=True)


def working_tree_bytes() -> int:
    """The size of what the device tool sends besides carried paths: tracked and untracked, not ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")  # fmt: skip
    return sum(path.stat().st_size for path in map(Path, filter(None, listed)) if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.gpu_bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=BUNDLE)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gpu-bundle-") as staging:
        staging = Path(staging)
        install_site(staging / "site")
        build_jre(staging / "jre")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.output, "w:xz", preset=9) as archive:
            for name in ("site", "jre"):
                archive.add(staging / name, arcname=name)
    bundle, tree = args.output.stat().st_size, working_tree_bytes()
    total = bundle + tree
    print(f"{args.output}: {bundle / 2**20:.1f} MiB; working tree {tree / 2**20:.1f} MiB; "
          f"together {total / 2**20:.1f} MiB of the device tool's {TRAVEL_LIMIT / 2**20:.0f} MiB")  # fmt: skip
    if total > TRAVEL_LIMIT:
        sys.exit("too large to travel in one call")


if __name__ == "__main__":
    main()
