"""VGG-16 training at its real size, vgg-wgpu and PyTorch fp32 each against the same run in
PyTorch f64: torchvision's `vgg16(num_classes=10)` initialisation, dropout 0, a few SGD
steps (lr 0.01, momentum 0.9, weight decay 5e-4) on batches of random 224×224 images
(pixels uniform in [0, 1)).

    python3 benches/vgg16_precision.py [--steps 3] [--batch 2] [--dir DIR] [--binary PATH]

vgg-wgpu runs through `TrainPlan::step` (examples/steps_from_files.rs, built and run with
cargo unless --binary names a built copy of it).
For every tensor the error is ‖w − w₆₄‖ / ‖w₆₄ − w_start‖, relative to the update; the
table also has the last step's loss. PyTorch fp32 runs twice, in the default and in the
channels-last memory format (other kernels, other summation order), to show how far
apart two fp32 runs land. Takes minutes on a CPU adapter.
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file, save_file

LR, MOMENTUM, WEIGHT_DECAY, CLASSES, SIZE = 0.01, 0.9, 5e-4, 10, 224


def start_model():
    torch.manual_seed(0)
    model = torchvision.models.vgg16(num_classes=CLASSES)
    for layer in model.classifier:
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0
    return model


def train(model, dtype, images, labels, steps, batch):
    """The weights after `steps` SGD steps in `dtype`, and each step's loss."""
    model = model.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    losses = []
    for step in range(steps):
        at = slice(step * batch, (step + 1) * batch)
        loss = F.cross_entropy(model(images[at].to(dtype)), labels[at])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {k: v.detach().double() for k, v in model.state_dict().items()}, losses


def run_wgpu(binary, folder, start, images, labels, steps, batch):
    save_file({k: v.contiguous() for k, v in start.items()}, folder / "start.safetensors")
    images.numpy().astype("<f4").tofile(folder / "images.f32")
    labels.numpy().astype("<u4").tofile(folder / "labels.u32")
    args = [str(folder), "D", str(SIZE), str(batch), str(steps)]
    command = [binary] if binary else ["cargo", "run", "--quiet", "--example", "steps_from_files", "--"]
    subprocess.run([*command, *args], check=True)
    end = {k: v.double() for k, v in load_file(folder / "end.safetensors").items()}
    losses = [float(line) for line in (folder / "losses.txt").read_text().split()]
    return end, losses


def table(start, w64, loss64, columns):
    """Each column's error per tensor and at the last loss; columns: name → (weights, losses)."""
    print("| tensor | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, reference in w64.items():
        update = (reference - start[name].double()).norm().item()
        errors = [(w[name] - reference).norm().item() / update for w, _ in columns.values()]
        print(f"| {name} | " + " | ".join(f"{e:.2e}" for e in errors) + " |")
    errors = [abs(losses[-1] - loss64[-1]) / abs(loss64[-1]) for _, losses in columns.values()]
    print(f"| loss at step {len(loss64)}, relative | " + " | ".join(f"{e:.2e}" for e in errors) + " |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="where the inputs and results go (default: a temporary folder)")
    parser.add_argument("--binary", help="a built examples/steps_from_files (default: cargo run)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    start = {k: v.clone() for k, v in start_model().state_dict().items()}
    generator = torch.Generator().manual_seed(1)
    n = args.steps * args.batch
    images = torch.rand(n, 3, SIZE, SIZE, generator=generator)
    labels = torch.randint(0, CLASSES, (n,), generator=generator)

    w64, loss64 = train(start_model(), torch.float64, images, labels, args.steps, args.batch)
    columns = {"PyTorch fp32": train(start_model(), torch.float32, images, labels, args.steps, args.batch)}
    # The same fp32 training with another summation order (oneDNN's channels-last
    # kernels): how far two equally valid fp32 runs land apart.
    channels_last = start_model().to(memory_format=torch.channels_last)
    columns["PyTorch fp32, channels_last"] = train(
        channels_last, torch.float32, images.contiguous(memory_format=torch.channels_last), labels, args.steps, args.batch
    )
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        columns["vgg-wgpu"] = run_wgpu(args.binary, folder, start, images, labels, args.steps, args.batch)
    print(f"losses: f64 {loss64}")
    for name, (_, losses) in columns.items():
        print(f"        {name} {losses}")
    table(start, w64, loss64, columns)


if __name__ == "__main__":
    main()
