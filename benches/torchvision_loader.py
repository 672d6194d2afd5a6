#!/usr/bin/env python3
"""Times torchvision's training pipeline the way `vgg-wgpu bench loader` times ours.

    python3 benches/torchvision_loader.py --data DIR [--crop 224 --scale 256:512
        --batch 32 --workers 0,1,2 --min-seconds S]

DIR is the folder `train --data` takes; DIR/train is read with torchvision's
ImageFolder (PIL decode). Each image: its smallest side resized to an S drawn from
[Smin, Smax] (the paper's scale jitter; RandomResizedCrop is another augmentation),
RandomCrop, RandomHorizontalFlip, ToTensor, Normalize. Our loader's colour shift is
left out: ours folds it into the normalisation's multiply-add, so it costs nothing
there either. Batches come from a torch DataLoader (shuffled, every batch full) with
each worker count, tensor ops on one thread per process; each is timed over whole
batches, across epochs, after one warm-up batch, and printed in the same table. Needs
torch and torchvision.
"""

import argparse
import os
import random
import time

import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.datasets import ImageFolder


class RandomSmallestSide:
    """Resizes the smallest side to an S drawn from [s_min, s_max], aspect kept."""

    def __init__(self, s_min, s_max):
        self.s_min, self.s_max = s_min, s_max

    def __call__(self, image):
        return F.resize(image, random.randint(self.s_min, self.s_max))


def time_batches(loader, min_seconds):
    """Images loaded and the seconds they took: one warm-up batch, then whole batches,
    on into the next epochs, until min_seconds have passed (at least one batch)."""
    batches = iter(loader)
    next(batches)
    start = time.perf_counter()
    images = 0
    while images == 0 or time.perf_counter() - start < min_seconds:
        try:
            images += len(next(batches)[1])
        except StopIteration:
            batches = iter(loader)
    return images, time.perf_counter() - start


def main():
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--scale", default="256:512", help="Smin:Smax")
    parser.add_argument("--batch", type=int, default=32)
    default_workers = "0,1" + (f",{cores}" if cores > 1 else "")
    parser.add_argument("--workers", default=default_workers, help="e.g. 0,1,2")
    parser.add_argument("--min-seconds", type=float, default=0.5)
    args = parser.parse_args()
    # One thread for tensor ops in this process too, as DataLoader gives each worker:
    # with no workers, the pipeline then keeps one core busy, as ours does.
    torch.set_num_threads(1)
    s_min, s_max = (int(s) for s in args.scale.split(":"))
    # torchvision's ImageNet statistics; which mean and std changes no timing.
    normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    transform = T.Compose(
        [
            RandomSmallestSide(s_min, s_max),
            T.RandomCrop(args.crop),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            normalize,
        ]
    )
    train = ImageFolder(os.path.join(args.data, "train"), transform=transform)
    print(
        f"torchvision {torchvision.__version__} loader: {args.data} ({len(train)} images), "
        f"S in [{s_min}, {s_max}], crop {args.crop}, batch {args.batch}, {cores} cores"
    )
    print("workers  cores used  images  seconds  images/s  images/s per core")
    for workers in (int(w) for w in args.workers.split(",")):
        loader = torch.utils.data.DataLoader(
            train, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=workers
        )
        images, seconds = time_batches(loader, args.min_seconds)
        cores_used = min(max(workers, 1), cores)
        per_s = images / seconds
        print(
            f"{workers:>7}  {cores_used:>10}  {images:>6}  {seconds:>7.2f}  {per_s:>8.1f}  "
            f"{per_s / cores_used:>17.1f}"
        )


if __name__ == "__main__":
    main()
