#!/usr/bin/env python3
"""Writes an ImageNet-style folder of photo-like JPEGs for timing data loaders.

    python3 benches/make_jpeg_folder.py N OUT [--classes 4] [--seed 0]

OUT/train/<class>/*.jpg holds N images, OUT/val/<class>/*.jpg two per class (train
refuses an empty validation set). Images are 500x375 (ImageNet's average), one in four
turned to 375x500: a colour gradient, a few blurred shapes and pixel noise, saved at
JPEG quality 90, so that a file is about a photo's size (85 KB; ImageNet's average
about 110 KB) and decoding costs what a photo's does. The same N, classes and seed
give the same files. Needs Pillow.
OUT must not exist yet: nothing is written over.
"""

import argparse
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 500, 375


def photo(rng):
    """One photo-like image drawn from `rng`."""
    w, h = (WIDTH, HEIGHT) if rng.random() < 0.75 else (HEIGHT, WIDTH)
    top, bottom = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(2)]
    ramp = Image.linear_gradient("L").resize((w, h))
    image = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), ramp)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 9)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 4.0)))
    noise = Image.frombytes("L", (w, h), rng.randbytes(w * h)).convert("RGB")
    return Image.blend(image, noise, 0.2)


def write_split(out, split, per_class, classes, rng):
    for c in range(classes):
        folder = os.path.join(out, split, f"class_{c:02d}")
        os.makedirs(folder)
        for i in range(per_class[c]):
            photo(rng).save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, help="training images")
    parser.add_argument("out", help="folder to create")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.n < args.classes or args.classes < 2:
        sys.exit("need at least 2 classes and one training image per class")
    if os.path.exists(args.out):
        sys.exit(f"{args.out} exists: give a new folder (nothing is written over)")
    rng = random.Random(args.seed)
    per_class = [args.n // args.classes + (c < args.n % args.classes) for c in range(args.classes)]
    write_split(args.out, "train", per_class, args.classes, rng)
    write_split(args.out, "val", [2] * args.classes, args.classes, rng)
    print(f"{args.out}: {args.n} training and {2 * args.classes} validation JPEGs")


if __name__ == "__main__":
    main()
