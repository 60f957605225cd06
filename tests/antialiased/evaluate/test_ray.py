"""The Ray engine on a local Ray (num_cpus=2) started here: the local engine's per-image results and figures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.datasets import assert_same_rows

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    # Workers import the test networks (tests.support.eval_models) from the repository, as the driver does.
    ray.init(num_cpus=2, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}}, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def small_folder(photo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One class of the photo folder (40 images) and one file that is not an image."""
    root = tmp_path_factory.mktemp("ray") / "data"
    for folder in sorted(photo_folder.iterdir())[:1]:
        shutil.copytree(folder, root / folder.name)
    (root / folder.name / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return root


def test_ray_engine_gives_the_local_engines_results(local_ray, run_cli, small_folder, model_specs, tmp_path) -> None:
    args = ["--data", str(small_folder), "--model", model_specs["tiny"], "--model", model_specs["circular"],
            "--measure", "consistency,circular", "--epochs-shift", "2", "--shard-size", "8"]  # fmt: skip
    local = run_cli(*args, out=tmp_path / "local")
    distributed = run_cli(*args, "--engine", "ray", "--ray-actors", "1", out=tmp_path / "ray")
    assert_same_rows(distributed["images"], local["images"])
    for ours, theirs in zip(distributed["results"]["models"], local["results"]["models"], strict=True):
        assert ours["figures"] == theirs["figures"]
    assert distributed["results"]["dataset"]["unreadable"] == local["results"]["dataset"]["unreadable"] != []
    assert distributed["results"]["engine"] == "ray" and "ray" in distributed["results"]["versions"]


def test_nothing_of_ray_is_imported_by_the_local_engine(small_folder, model_specs, tmp_path) -> None:
    script = (
        "import sys\nfrom antialiased.evaluate.cli import main\n"
        f"status = main(['--data', {str(small_folder)!r}, '--limit', '4', '--model', {model_specs['tiny']!r}, "
        f"'--out', {str(tmp_path / 'run')!r}, '--quiet'])\n"
        "assert status == 0, status\nassert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
