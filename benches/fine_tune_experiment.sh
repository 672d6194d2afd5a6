#!/usr/bin/env bash
# Fine-tuning against training from scratch, on a small task the pretrained net has
# not seen: five new shapes, 40 images each (30 train, 10 validation per class).
#
#   bash benches/fine_tune_experiment.sh [OUT]      # default OUT: runs/fine-tune
#
# 1. pretrains the default small VGG (A, widths ÷8, 32×32) on the built-in set (the
#    README's `vgg-wgpu train`; skipped when OUT/pretrained/model.safetensors exists);
# 2. trains on the new shapes for 60 epochs of 9 steps, the rate held (--patience 100):
#    (a) from scratch, (b) fine-tuning every layer from the pretrained weights at a
#    tenth of the rate, (c) fine-tuning the classifier alone (--freeze features) at
#    the from-scratch rate, 0.01;
# 3. prints validation accuracy against training steps for each, and the share of
#    (a)'s steps that (b) and (c) need to reach (a)'s final accuracy, and draws the
#    three runs' curves into OUT/curves.svg.
set -euo pipefail
out=${1:-runs/fine-tune}
bin=${VGG_WGPU:-${CARGO_TARGET_DIR:-target}/debug/vgg-wgpu}
cargo build --locked --bin vgg-wgpu --example new_shapes_folder
"${CARGO_TARGET_DIR:-target}/debug/examples/new_shapes_folder" "$out/shapes" 40 40

if [ ! -f "$out/pretrained/model.safetensors" ]; then
    "$bin" train --out "$out/pretrained" --overwrite
fi

common=(--data "$out/shapes" --val-split 0.25 --batch 16 --epochs 60 --patience 100
        --log-every 1 --workers 2 --overwrite)
pretrained="pretrained:$out/pretrained/model.safetensors"
"$bin" train "${common[@]}" --out "$out/scratch"
"$bin" train "${common[@]}" --out "$out/all-layers" --init "$pretrained" --lr 0.001
"$bin" train "${common[@]}" --out "$out/frozen" --init "$pretrained" --freeze features --lr 0.01

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
runs = {"(a) from scratch": "scratch", "(b) fine-tune all layers": "all-layers",
        "(c) frozen features": "frozen"}
curves = {}
for name, folder in runs.items():
    with open(f"{out}/{folder}/metrics.jsonl") as f:
        epochs = [json.loads(l) for l in f if '"kind":"epoch"' in l]
    curves[name] = [(e["step"], 1 - e["val_top1_err"]) for e in epochs]
steps = sorted({s for c in curves.values() for s, _ in c})
print("| step | " + " | ".join(curves) + " |")
print("|---:|" + "---:|" * len(curves))
for step in steps:
    cells = []
    for c in curves.values():
        acc = dict(c).get(step)
        cells.append("" if acc is None else f"{100 * acc:.0f}%")
    print(f"| {step} | " + " | ".join(cells) + " |")
scratch = curves["(a) from scratch"]
final_step, final_acc = scratch[-1]
print(f"\n(a) ends at {100 * final_acc:.0f}% after {final_step} steps")
for name, c in curves.items():
    if name.startswith("(a)"):
        continue
    reached = next((s for s, a in c if a >= final_acc), None)
    if reached is None:
        print(f"{name}: never reaches {100 * final_acc:.0f}% (best {100 * max(a for _, a in c):.0f}%)")
    else:
        print(f"{name}: reaches it at step {reached}, {reached / final_step:.2f} of (a)'s steps")
PY
"$bin" plot "$out/scratch" "$out/all-layers" "$out/frozen" --out "$out/curves.svg"
