"""Peak memory and speed of week 10's data pipeline on generated folders of photos.

Writes folders of random-size JPEGs (300-1,000 px a side, smooth random colours so that they
compress like photos), then makes one pass over each at 224 px with ``utils.project``'s
``ImageFileDataset`` and ``image_loader``, each pass in a fresh process so that its peak memory is
its own. The goal (issue: "final-project starter at real scale"): the 4,000-image pass needs less
than 200 MB more than the 1,000-image pass, because images are decoded when needed, never all held.

    python tools/benchmark_loader.py                 # 1,000 and 4,000 images, 2 workers
    python tools/benchmark_loader.py --record        # also store the figures in notebooks/results/

The figures go to ``week10_loader_benchmark.json`` (keys ``loader_peak_mb_1000``,
``loader_peak_mb_4000``, ``loader_images_per_second``), beside week 10's own results.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS_NAME = "week10_loader_benchmark"
GOAL_EXTRA_MB = 200


def write_photo_folder(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` JPEGs in two class folders, each 300-1,000 px a side, smooth colour gradients plus noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index in range(count):
        width, height = (int(v) for v in rng.integers(300, 1001, size=2))
        corners = rng.integers(0, 256, size=(2, 2, 3)).astype(np.uint8)
        small = Image.fromarray(corners).resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(small, dtype=np.int16) + rng.integers(-12, 13, size=(height, width, 3), dtype=np.int16)
        folder = root / ("a" if index % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{index:05d}.jpg", quality=85)
    return root


def one_pass(folder: Path, image_size: int, workers: int, batch_size: int) -> dict[str, float]:
    """Scan, split and one pass over all images at ``image_size``; peak memory of this process and its workers."""
    import torch

    import utils

    files = utils.project.scan_image_folder(folder)
    dataset = utils.project.ImageFileDataset(
        folder, files[files["status"] == "ok"], ["a", "b"], utils.project.train_transform(image_size)
    )
    loader = utils.project.image_loader(dataset, batch_size, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, _ in loader:
        assert images.shape[1:] == (3, image_size, image_size) and images.dtype == torch.float32
        seen += len(images)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"images": seen, "seconds": seconds, "peak_mb": own + workers * workers_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--record", action="store_true", help="store the figures in notebooks/results/")
    parser.add_argument("--_pass", type=Path, help=argparse.SUPPRESS)  # internal: one pass in this process
    args = parser.parse_args()
    if args._pass:
        print(json.dumps(one_pass(args._pass, args.image_size, args.workers, args.batch_size)))
        return

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.sizes:
            folder = write_photo_folder(Path(scratch) / f"photos_{count}", count)
            command = [
                sys.executable,
                __file__,
                "--_pass",
                str(folder),
                "--image-size",
                str(args.image_size),
                "--workers",
                str(args.workers),
                "--batch-size",
                str(args.batch_size),
            ]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rate = result["images"] / result["seconds"]
            print(
                f"{count:>6,} images: peak {result['peak_mb']:,.0f} MB (process + {args.workers} workers), "
                f"{rate:,.0f} images/s at {args.image_size} px"
            )
            figures[f"loader_peak_mb_{count}"] = round(result["peak_mb"], 1)
            figures["loader_images_per_second"] = round(rate, 1)  # the largest folder's rate is kept
    if len(args.sizes) >= 2:
        extra = figures[f"loader_peak_mb_{max(args.sizes)}"] - figures[f"loader_peak_mb_{min(args.sizes)}"]
        verdict = "met" if extra < GOAL_EXTRA_MB else "NOT met"
        print(
            f"{max(args.sizes):,} images need {extra:+.0f} MB against {min(args.sizes):,}: "
            f"goal < {GOAL_EXTRA_MB} MB {verdict}"
        )
    if args.record:
        from utils.results import course_results_dir

        path = course_results_dir() / f"{RESULTS_NAME}.json"
        path.write_text(json.dumps(dict(sorted(figures.items())), indent=2) + "\n")
        print(f"recorded in {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
