"""VGG-16 training at its real size, vgg-wgpu and PyTorch fp32 each against the same run in
PyTorch f64: torchvision's `vgg16(num_classes=10)` initialisation, dropout 0, a few SGD
steps (lr 0.01, momentum 0.9, weight decay 5e-4) on batches of random 224×224 images
(pixels uniform in [0, 1)).

    python3 benches/vgg16_precision.py [--steps 3] [--batch 2] [--seeds 1] [--first-seed 0]
                                       [--binary LABEL=PATH ...] [--dir DIR]

vgg-wgpu runs through `TrainPlan::step` (examples/steps_from_files.rs, built and run with
cargo unless --binary names built copies of it: one column each, to compare builds).
For every tensor the error is ‖w − w₆₄‖ / ‖w₆₄ − w_start‖, relative to the update; the
table also has the last step's loss. PyTorch fp32 runs twice, in the default and in the
channels-last memory format (other kernels, other summation order), to show how far
apart two fp32 runs land.

Two comparisons. Against the f64 run itself; but a ReLU input or max-pool pair within
fp32's rounding of a tie goes the other way in some fp32 summation orders and not in
others, and one such decision moves a layer's gradient far more than rounding does. So
each run's decisions are read (vgg-wgpu's from the activations it writes), counted
against f64's, and each run is also compared with f64 taking that run's own decisions
(each ReLU multiplies by the run's mask, each max-pool takes the run's winner): the
rounding alone.

Seed s initialises the model with `torch.manual_seed(s)` and draws the data from a
generator seeded s + 1 (seed 0 is the experiment of the issue "Numerics at real size");
with several seeds, last tables give each tensor's median error over them. Takes minutes
per seed on a CPU adapter.
"""

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file, save_file

LR, MOMENTUM, WEIGHT_DECAY, CLASSES, SIZE = 0.01, 0.9, 5e-4, 10, 224


def start_weights(seed):
    """torchvision's VGG-16 initialisation for `seed`, as a state dict (run by `forward`,
    which has no dropout)."""
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in torchvision.models.vgg16(num_classes=CLASSES).state_dict().items()}


# torchvision's VGG-16: the `features.N` conv layers of each block (a max-pool ends each).
BLOCKS = [[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]]


class Decisions:
    """The discrete decisions of a forward pass: for each ReLU in order, which inputs are
    positive; for each max-pool, which element of each 2×2 window wins (0..3, the first
    maximum in row-major order, as in vgg-wgpu and torch.argmax). Deciding, it also keeps
    the ReLU input nearest zero as (|x|, the layer before that ReLU); with `follow` (the
    decisions of another pass) it takes those instead."""

    def __init__(self, follow=None):
        self.follow, self.decisions, self.closest = follow, [], (float("inf"), "")

    def relu(self, x, layer):
        if self.follow is not None:
            return x * self.take()
        self.closest = min(self.closest, (x.detach().abs().min().item(), layer))
        self.decisions.append(x.detach() > 0)
        return F.relu(x)

    def pool(self, x):
        n, c, h, w = x.shape
        windows = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        if self.follow is not None:
            return windows.gather(-1, self.take().long().unsqueeze(-1)).squeeze(-1)
        self.decisions.append(windows.detach().argmax(-1).to(torch.uint8))
        return F.max_pool2d(x, 2)

    def take(self):
        decision = self.follow[len(self.decisions)]
        self.decisions.append(decision)
        return decision


def forward(params, x, path):
    """torchvision VGG-16's logits for the state dict `params`, deciding or following `path`."""
    for block in BLOCKS:
        for i in block:
            x = path.relu(F.conv2d(x, params[f"features.{i}.weight"], params[f"features.{i}.bias"], padding=1), f"features.{i}")
        x = path.pool(x)
    x = torch.flatten(x, 1)  # the adaptive average pool is the identity at 224×224
    x = path.relu(F.linear(x, params["classifier.0.weight"], params["classifier.0.bias"]), "classifier.0")
    x = path.relu(F.linear(x, params["classifier.3.weight"], params["classifier.3.bias"]), "classifier.3")
    return F.linear(x, params["classifier.6.weight"], params["classifier.6.bias"])


def train(start, dtype, images, labels, steps, batch, follow=None, channels_last=False):
    """SGD from the state dict `start` in `dtype`: the weights after `steps` steps, each
    step's loss and the path each step's forward pass took (or followed: `follow`)."""
    params = {k: v.to(dtype).clone() for k, v in start.items()}
    if channels_last:
        params = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in params.items()}
        images = images.contiguous(memory_format=torch.channels_last)
    for value in params.values():
        value.requires_grad_()
    opt = torch.optim.SGD(params.values(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    losses, paths = [], []
    for step in range(steps):
        at = slice(step * batch, (step + 1) * batch)
        path = Decisions(None if follow is None else follow[step].decisions)
        loss = F.cross_entropy(forward(params, images[at].to(dtype), path), labels[at])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        paths.append(path)
    return {k: v.detach().double() for k, v in params.items()}, losses, paths


def run_wgpu(binary, folder, start, images, labels, steps, batch):
    """vgg-wgpu's weights after the steps and each step's loss (its decisions: wgpu_paths)."""
    save_file({k: v.contiguous() for k, v in start.items()}, folder / "start.safetensors")
    images.numpy().astype("<f4").tofile(folder / "images.f32")
    labels.numpy().astype("<u4").tofile(folder / "labels.u32")
    args = [str(folder), "D", str(SIZE), str(batch), str(steps)]
    command = [binary] if binary else ["cargo", "run", "--quiet", "--example", "steps_from_files", "--"]
    subprocess.run([*command, *args], check=True, stdout=subprocess.DEVNULL)
    end = {k: v.double() for k, v in load_file(folder / "end.safetensors").items()}
    losses = [float(line) for line in (folder / "losses.txt").read_text().split()]
    return end, losses


def wgpu_paths(folder, steps):
    """The paths of vgg-wgpu's forward passes, from the activations it wrote."""
    paths = []
    for step in range(1, steps + 1):
        acts = load_file(folder / f"activations_{step}.safetensors")
        path, before = Decisions(), None
        for name in sorted(acts):
            y = acts[name]
            if " conv" in name or (" fc" in name and y.shape[1] != CLASSES):
                path.decisions.append(y > 0)  # ReLU'd output: positive where the input was
            elif " maxpool" in name:
                n, c, h, w = before.shape
                windows = before.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
                path.decisions.append(windows.reshape(n, c, h // 2, w // 2, 4).argmax(-1).to(torch.uint8))
            before = y
        paths.append(path)
    return paths


def differences(paths, reference):
    """How many decisions of `paths` differ from `reference`'s, per step."""
    return [sum(int((a != b).sum()) for a, b in zip(p.decisions, r.decisions)) for p, r in zip(paths, reference)]


def errors(start, reference, result):
    """The error of each tensor of `result` (weights, losses) against `reference`'s,
    and of its last loss: row name → error."""
    (w64, loss64), (weights, losses) = reference, result
    rows = {}
    for name, expected in w64.items():
        update = (expected - start[name].double()).norm().item()
        rows[name] = (weights[name] - expected).norm().item() / update
    rows[f"loss at step {len(loss64)}, relative"] = abs(losses[-1] - loss64[-1]) / abs(loss64[-1])
    return rows


def print_table(columns):
    """columns: label → {row name → value}."""
    names = list(columns)
    print("| tensor | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for row in columns[names[0]]:
        print(f"| {row} | " + " | ".join(f"{columns[c][row]:.2e}" for c in names) + " |")


def one_seed(seed, args, binaries, folder):
    """Two tables of one seed's errors (also printed, with the losses and decisions):
    against the f64 run, and against f64 following each run's own decisions."""
    start = start_weights(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    n = args.steps * args.batch
    images = torch.rand(n, 3, SIZE, SIZE, generator=generator)
    labels = torch.randint(0, CLASSES, (n,), generator=generator)
    run = (images, labels, args.steps, args.batch)

    w64, loss64, path64 = train(start, torch.float64, *run)
    runs = {
        "PyTorch fp32": train(start, torch.float32, *run),
        # The same fp32 training with another summation order (oneDNN's channels-last
        # kernels): how far two equally valid fp32 runs land apart.
        "PyTorch fp32, channels_last": train(start, torch.float32, *run, channels_last=True),
    }
    for label, binary in binaries:
        runs[label] = (*run_wgpu(binary, folder, start, images, labels, args.steps, args.batch),
                       wgpu_paths(folder, args.steps))

    print(f"\n## seed {seed}\nlosses: f64 {loss64}")
    for name, (_, losses, _) in runs.items():
        print(f"        {name} {losses}")
    for step, path in enumerate(path64):
        print(f"step {step + 1}: the ReLU input nearest zero in f64 is {path.closest[0]:.1e}, after {path.closest[1]}")
    plain, same_path = {}, {}
    for name, (weights, losses, paths) in runs.items():
        unlike = differences(paths, path64)
        print(f"decisions unlike f64's, per step: {name} {unlike}")
        plain[name] = errors(start, (w64, loss64), (weights, losses))
        follows = (w64, loss64) if not any(unlike) else train(start, torch.float64, *run, follow=paths)[:2]
        same_path[name] = errors(start, follows, (weights, losses))
    print("\nagainst f64:")
    print_table(plain)
    print("\nagainst f64 taking the same ReLU and max-pool decisions:")
    print_table(same_path)
    return plain, same_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds to run")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, help="where vgg-wgpu's inputs and results go (default: a temporary folder)")
    parser.add_argument(
        "--binary",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a built examples/steps_from_files, its column's label (default: cargo run, labelled vgg-wgpu)",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    binaries = [tuple(b.split("=", 1)) for b in args.binary] or [("vgg-wgpu", None)]

    seeds = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            seeds.append(one_seed(seed, args, binaries, folder))
    if len(seeds) > 1:
        for kind, title in enumerate(["against f64", "against f64 taking the same decisions"]):
            print(f"\n## median over {len(seeds)} seeds, {title}")
            tables = [tables[kind] for tables in seeds]
            print_table({c: {row: statistics.median(t[c][row] for t in tables) for row in tables[0][c]}
                         for c in tables[0]})


if __name__ == "__main__":
    main()
