#!/usr/bin/env python3
"""The summary of `bash benches/gpu-check.sh run OUT_DIR`, read from the files it wrote.

    python3 benches/gpu_check_summary.py OUT_DIR

A number that a section should have written and did not stops this with an error naming
the file and what was looked for, so that a broken section never shows as an empty cell.
A file that says "skipped: why" (no PyTorch, the quick run's kernel tests) shows as
skipped, with its reason.
"""

import json
import os
import re
import sys

# The passes bench kernels times everywhere (inference differs only where Winograd runs).
PASSES = ("forward", "backward data", "backward weight")
KERNEL_ROW = re.compile(
    r"^(?P<layer>.+?)\s+(?P<pass>forward|inference|backward data|backward weight)\s+"
    r"(?P<gflop>[\d.]+)\s+(?P<ms>[\d.]+)\s"
)
KERNEL_VARIANTS = (
    ("default kernels", "kernels.txt"),
    ("VGG_WGPU_NO_TILES=1", "kernels-no-tiles.txt"),
    ("VGG_WGPU_NO_SUBGROUPS=1", "kernels-no-subgroups.txt"),
    ("VGG_WGPU_TILE_GROUP=4", "kernels-tile-group-4.txt"),
    ("VGG_WGPU_TILE_GROUP=8", "kernels-tile-group-8.txt"),
    ("VGG_WGPU_TILE_GROUP=16", "kernels-tile-group-16.txt"),
)


class Missing(Exception):
    pass


class Results:
    def __init__(self, folder):
        self.folder = folder

    def text(self, name):
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            raise Missing(f"{path} is missing")
        with open(path, encoding="utf-8") as f:
            return f.read()

    def skipped(self, name):
        """The reason a section gave for skipping, or None when it ran."""
        text = self.text(name)
        return text.strip() if text.startswith("skipped:") else None

    def number(self, name, pattern, what):
        """The first group of `pattern`'s first match in file `name`, as a float."""
        match = re.search(pattern, self.text(name), re.MULTILINE)
        if not match:
            raise Missing(f"no {what} in {os.path.join(self.folder, name)}")
        return float(match.group(1))

    def kernel_ms(self, name):
        """Milliseconds summed over the layers for each pass, and GFLOP/s over all."""
        ms = dict.fromkeys(PASSES, 0.0)
        rows = dict.fromkeys(PASSES, 0)
        gflop = 0.0
        for line in self.text(name).splitlines():
            row = KERNEL_ROW.match(line)
            if row and row["pass"] in ms:
                ms[row["pass"]] += float(row["ms"])
                rows[row["pass"]] += 1
                gflop += float(row["gflop"])
        if len(set(rows.values())) != 1 or not rows["forward"]:
            raise Missing(f"passes timed on different layers, or none, in {os.path.join(self.folder, name)}")
        return ms, gflop / (sum(ms.values()) / 1e3)

    def step(self, name, pass_name):
        """(ms, images/s) of one pass of a bench step table."""
        pattern = rf"{pass_name}\s+([\d.]+) ms\s+([\d.]+) images/s"
        match = re.search(pattern, self.text(name))
        if not match:
            raise Missing(f"no '{pass_name}' row in {os.path.join(self.folder, name)}")
        return float(match.group(1)), float(match.group(2))

    def loader_rows(self, name):
        """{workers: (images/s, images/s per core)} of a bench loader table."""
        rows = {}
        for line in self.text(name).splitlines():
            cells = line.split()
            if len(cells) == 6 and all(re.fullmatch(r"[\d.]+", c) for c in cells):
                rows[int(cells[0])] = (float(cells[4]), float(cells[5]))
        if not rows:
            raise Missing(f"no rows in {os.path.join(self.folder, name)}")
        return rows


def train_rates(results):
    """Training images/s of the one-epoch run, validation left out: over the whole
    epoch's steps (the epoch record's step seconds), and over its steps after the
    first five (warm-up left out too)."""
    records = [json.loads(line) for line in results.text("train-metrics.jsonl").splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    steps = [r for r in records if r["kind"] == "step"]
    if not epochs or len(steps) < 6:
        raise Missing("train-metrics.jsonl holds no epoch record or fewer than 6 steps")
    epoch = epochs[0]
    per_step = epoch["images"] / epoch["step"]
    later = steps[5:]
    steady = len(later) * per_step / sum(per_step / s["images_per_s"] for s in later)
    return epoch["images"] / epoch["seconds"], steady


def kernel_rows(results):
    base = None
    rows = []
    for label, name in KERNEL_VARIANTS:
        ms, gflops = results.kernel_ms(name)
        total = sum(ms.values())
        base = base or total
        parts = " + ".join(f"{ms[p]:.1f}" for p in PASSES)
        rows.append(
            (f"  {label}", f"{total:8.1f} ms ({parts})  {gflops:8.0f} GFLOP/s  {total / base:5.2f}× the default's time")
        )
    return rows


def step_rows(results):
    torch = results.skipped("step-pytorch.txt")
    if torch is None:
        lines = [json.loads(l) for l in results.text("step-pytorch.txt").splitlines() if l.startswith("{")]
        if len(lines) != 2:
            raise Missing("step-pytorch.txt should hold 2 JSON lines (VGG-16, the small net)")
    rows = []
    for label, name, pass_name, key, line in (
        ("VGG-16 training step", "step-vgg16.txt", "training step", "train_images_per_s", 0),
        ("  VGG_WGPU_NO_TILES=1", "step-vgg16-no-tiles.txt", "training step", None, 0),
        ("VGG-16 inference", "step-vgg16.txt", "inference", "inference_images_per_s", 0),
        ("  VGG_WGPU_NO_TILES=1", "step-vgg16-no-tiles.txt", "inference", None, 0),
        ("small net training step", "step-small.txt", "training step", "train_images_per_s", 1),
    ):
        ms, rate = results.step(name, pass_name)
        beside = ""
        if key and torch is None:
            reference = lines[line][key]
            beside = f"  PyTorch ({lines[line]['device']}) {reference:.1f}: {rate / reference:.2f}×"
        elif key:
            beside = "  PyTorch: skipped"
        rows.append((label, f"{rate:8.1f} images/s ({ms:.1f} ms){beside}"))
    return rows


def loader_rows(results):
    ours = results.loader_rows("loader.txt")
    most = max(ours)
    skipped = results.skipped("loader-torchvision.txt")
    theirs = None if skipped else results.loader_rows("loader-torchvision.txt")
    rows = []
    for workers in sorted(ours):
        rate, per_core = ours[workers]
        beside = "  torchvision: skipped"
        if theirs and workers in theirs:
            t_rate, t_per_core = theirs[workers]
            beside = f"  torchvision {t_rate:.1f} ({t_per_core:.1f} per core): {rate / t_rate:.2f}×"
        label = f"loader, workers: {workers}" + (" (one per core)" if workers == most and workers > 1 else "")
        rows.append((label, f"{rate:8.1f} images/s ({per_core:.1f} per core){beside}"))
    return rows


def summary(results):
    adapter = re.search(r"^chosen: (.*)$", results.text("info.txt"), re.MULTILINE)
    if not adapter:
        raise Missing("no 'chosen:' adapter in info.txt")
    tests = results.skipped("kernel-tests.txt") or "{:.0f} passed".format(
        results.number("kernel-tests.txt", r"^test result: ok\. (\d+) passed", "'test result: ok'")
    )
    peak = results.number("peak.txt", r"multiply-add peak[^:]*:\s*([\d.]+) GFLOP/s", "multiply-add peak")
    rows = [("adapter", adapter.group(1)), ("kernel tests", tests), ("multiply-add peak", f"{peak:.0f} GFLOP/s")]
    rows.append(("conv layers, ms (fwd + data + weight)", ""))
    rows += kernel_rows(results)
    rows += step_rows(results)
    epoch_rate, steady_rate = train_rates(results)
    _, step_rate = results.step("step-vgg16.txt", "training step")
    rows.append(("train, one epoch, steps only", f"{epoch_rate:8.1f} images/s: {epoch_rate / step_rate:.2f}× bench step's"))
    rows.append(("  after its first 5 steps", f"{steady_rate:8.1f} images/s: {steady_rate / step_rate:.2f}× bench step's"))
    rows += loader_rows(results)
    classify = results.skipped("classify-vgg16.txt")
    if classify is None:
        times = re.findall(r"(\d+) photo\(s\): ([\d.]+) s", results.text("classify-vgg16.txt"))
        if len(times) != 4:
            raise Missing("classify-vgg16.txt should hold 4 timings")
        quick, paper = times[:2], times[2:]
        classify = "; ".join(
            f"{name}: " + ", ".join(f"{n} photo(s) {s} s" for n, s in protocol)
            for name, protocol in (("quick", quick), ("paper", paper))
        )
    rows.append(("classify VGG-16 (whole process)", classify))
    seconds = re.findall(r"([\d.]+) s$", results.text("timing.txt"), re.MULTILINE)
    rows.append(("check's seconds (timing.txt)", f"{sum(float(s) for s in seconds):.0f}"))
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    try:
        rows = summary(Results(sys.argv[1]))
    except Missing as e:
        sys.exit(f"gpu-check summary: {e}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}".rstrip())


if __name__ == "__main__":
    main()
