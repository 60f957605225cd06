"""Paper mode against a straightforward re-implementation of the paper script's loops (`validate`, `validate_shift`),
written here with torchvision.transforms on PIL images as the script does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from antialiased.datasets import read_image
from antialiased.evaluate.plans import EvaluationProtocol, image_plan
from antialiased.evaluate.scoring import cut_views
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from antialiased.weights import load_weights
from tests.support.eval_models import TinyStridedNet

SEED, BATCH, EPOCHS = 3, 8, 2


def _loader(root: Path, crop: int) -> DataLoader:
    transform = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(crop), transforms.ToTensor(),
         transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)]
    )  # fmt: skip
    return DataLoader(datasets.ImageFolder(str(root), transform), batch_size=BATCH, shuffle=False)


@torch.no_grad()
def _papers_validate_shift(model: torch.nn.Module, root: Path) -> tuple[float, list[list[bool]]]:
    """The script's consistency (AverageMeter of per-batch agreement in percent), and each image's agreements."""
    np.random.seed(SEED)
    total, count, per_image = 0.0, 0, [[] for _ in range(len(_loader(root, 256).dataset))]
    for _ in range(EPOCHS):
        for i, (images, _) in enumerate(_loader(root, 256)):
            off0 = np.random.randint(32, size=2)
            off1 = np.random.randint(32, size=2)
            output0 = model(images[:, :, off0[0] : off0[0] + 224, off0[1] : off0[1] + 224])
            output1 = model(images[:, :, off1[0] : off1[0] + 224, off1[1] : off1[1] + 224])
            agree = output0.argmax(dim=1) == output1.argmax(dim=1)
            cur_agree = 100 * agree.float().mean()
            total, count = total + cur_agree.item() * images.size(0), count + images.size(0)
            for j, a in enumerate(agree.tolist()):
                per_image[i * BATCH + j].append(a)
    return total / count, per_image


@torch.no_grad()
def _papers_top1(model: torch.nn.Module, root: Path) -> list[int]:
    return [p for images, _ in _loader(root, 224) for p in model(images).topk(1, dim=1).indices[:, 0].tolist()]


def test_paper_mode_equals_the_scripts_loop(run_cli, photo_folder: Path, model_specs) -> None:
    run = run_cli(
        "--data", str(photo_folder), "--model", model_specs["tiny"], "--mode", "paper", "--seed", str(SEED),
        "--batch-size", str(BATCH), "--epochs-shift", str(EPOCHS),
    )  # fmt: skip
    model = load_weights(TinyStridedNet(), model_specs["tiny"].split(":")[0]).eval()
    consistency, agreements = _papers_validate_shift(model, photo_folder)
    assert 50 < consistency < 100, "the model is shift-sensitive, so the check has teeth"
    assert run["images"].column("top1").to_pylist() == _papers_top1(model, photo_folder)
    assert run["images"].column("shift_agree").to_pylist() == agreements
    ours = run["results"]["models"][0]["figures"]["consistency"]["value"]
    assert f"{ours:.3f}" == f"{consistency:.3f}", "the script prints consistency with 3 decimals"


def test_engine_views_are_the_scripts_input_crops(photo_folder: Path, tmp_path: Path) -> None:
    """Pixel for pixel: what the engines feed the model is what the script's loader feeds it (images up- and
    downsampled, PNG and JPEG)."""
    large = tmp_path / "n01440764"
    large.mkdir()
    for name, size in (("astronaut", (500, 375)), ("coffee", (333, 500)), ("chelsea", (451, 300))):
        Image.fromarray(getattr(data, name)()).resize(size).save(large / f"{name}.jpg", quality=92)
    plan = image_plan(EvaluationProtocol(measures=("consistency", "diagonal")), 0)
    for root in (photo_folder, tmp_path):
        dataset = _loader(root, 256).dataset
        for index in range(0, len(dataset), 4):  # every 4th image: both formats, every class, all sizes
            script, path = dataset[index][0], dataset.samples[index][0]
            views = cut_views(read_image(Path(path)), plan)
            expected = torch.stack([script[:, dy : dy + 224, dx : dx + 224] for dy, dx in plan.crop_offsets])
            assert torch.equal(views, expected), path
