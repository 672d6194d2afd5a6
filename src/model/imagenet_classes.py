"""Writes imagenet_classes.txt beside this script: the 1000 ILSVRC-2012 class names,
one a line, class 0 first, in the class order of torchvision's ImageNet weights (the
sorted WordNet IDs of the training folders). They are read from the installed
torchvision's weight metadata; nothing is downloaded.

    python3 src/model/imagenet_classes.py
"""
from pathlib import Path

from torchvision.models import VGG11_Weights, VGG13_Weights, VGG16_Weights, VGG19_Weights

# The names are attached to every 1000-class torchvision-layout VGG, so every VGG's
# metadata must list the same ones.
lists = [w.IMAGENET1K_V1.meta["categories"] for w in (VGG11_Weights, VGG13_Weights, VGG16_Weights, VGG19_Weights)]
names = lists[0]
assert all(other == names for other in lists), "torchvision's VGGs disagree on the class names"
assert len(names) == 1000, f"{len(names)} names, not 1000"
# One name per line: a name must be non-empty, one line, with no space at either end.
assert all(n and n == n.strip() and "\n" not in n for n in names), "a name does not fit one line"

out = Path(__file__).with_name("imagenet_classes.txt")
out.write_text("".join(n + "\n" for n in names), encoding="utf-8")
print(f"{len(names)} class names written to {out.name}")
