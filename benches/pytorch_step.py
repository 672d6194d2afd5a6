"""PyTorch reference for `vgg-wgpu bench step`: the same VGG (Table 1 configuration,
width divisor, input size, classes, dropout 0.5) trained with the same SGD step on the
CPU (or with --device cuda on an NVIDIA GPU, in strict fp32: no TF32), timed the same way.
Prints one JSON object: {"train_images_per_s": ..., ...}.

    python3 benches/pytorch_step.py --config A --width-divisor 8 --size 32 --batch 32 --classes 10
"""
import argparse
import json
import time

import torch
from torch import nn

# The paper's Table 1: conv widths, "M" = 2×2 max-pool, "L" = LRN, "1:" = a 1×1 conv.
TABLE = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "L", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, "1:256", "M", 512, 512, "1:512", "M", 512, 512, "1:512", "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg(config, divisor, size, classes):
    layers, channels = [], 3
    for item in TABLE[config]:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        elif item == "L":
            layers.append(nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0))
        else:
            kernel = 1 if str(item).startswith("1:") else 3
            out = int(str(item).split(":")[-1]) // divisor
            layers += [nn.Conv2d(channels, out, kernel, padding=kernel // 2), nn.ReLU(inplace=True)]
            channels = out
    fc = 4096 // divisor
    side = size // 32
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(channels * side * side, fc), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(fc, classes),
    )


def seconds_per_call(fn, min_seconds, device):
    def finish():
        # CUDA calls return before the GPU is done; time the work, not its queueing.
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    finish()
    start, runs = time.perf_counter(), 0
    while runs == 0 or time.perf_counter() - start < min_seconds:
        fn()
        finish()
        runs += 1
    return (time.perf_counter() - start) / runs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="A")
    p.add_argument("--width-divisor", type=int, default=8)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()
    device = torch.device(args.device)
    # Our kernels compute in fp32; so must the reference (TF32 would round inputs to 10 bits).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    model = vgg(args.config, args.width_divisor, args.size, args.classes).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    x = torch.full((args.batch, 3, args.size, args.size), 0.5, device=device)
    y = torch.arange(args.batch, device=device) % args.classes
    loss_fn = nn.CrossEntropyLoss()

    def train_step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def inference():
        with torch.no_grad():
            model(x)

    model.train()
    train = seconds_per_call(train_step, args.min_seconds, device)
    model.eval()
    infer = seconds_per_call(inference, args.min_seconds, device)
    print(json.dumps({
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "train_images_per_s": args.batch / train,
        "inference_images_per_s": args.batch / infer,
    }))


if __name__ == "__main__":
    main()
