#!/usr/bin/env bash
# Inputs for "teach a VGG new classes from a few photos" with real (trained) features:
# a VGG-16-shaped conv stack trained on the built-in set, and photos of five classes it
# has not seen, split into a few teaching images and held-out ones.
#
#   bash benches/real_features.sh [OUT]          # default OUT: runs/real-features
#
#   VGG_WGPU    the vgg-wgpu binary (default: $CARGO_TARGET_DIR or target, /release/vgg-wgpu)
#   NEW_SHAPES  examples/new_shapes_folder's binary (default: beside it in
#               release/examples/; built with `cargo build --release` when absent)
#   EPOCHS, WIDTH_DIVISOR, CROP   the conv stack's training (default 14, 8, 64)
#   TEACH, HELD_OUT               images per class (default 4 and 10)
#
# 1. trains VGG-D (VGG-16), widths ÷WIDTH_DIVISOR, on the built-in set drawn at CROP×CROP
#    for EPOCHS epochs into OUT/stack (skipped when OUT/stack/model.safetensors exists;
#    a run stopped with Ctrl-C is continued with --resume);
# 2. draws the five new shapes (star, hexagon, crescent, arrow, ellipse) at CROP×CROP
#    into OUT/shapes/<class>/, and copies images 0..TEACH-1 of each class to
#    OUT/teach/<class>/ and the next HELD_OUT to OUT/held-out/<class>/ (the same images
#    also as OUT/task/train and OUT/task/val, the layout `train --data` reads);
# 3. baseline: trains a new 5-class classifier on the frozen features
#    (--freeze features) on the teaching images, validated on the held-out ones, into
#    OUT/frozen, and prints the stack's and the baseline's validation accuracy;
# 4. the page (when web/pkg is built): teaches the stack the new classes from the
#    teaching images (`web/test/teach_big.mjs`, 300 steps) and counts the held-out ones
#    it recognises.
#
# Measured (lavapipe, 2 cores shared with another job, 2026-12-06): step 1 took 25 min
# (33-90 img/s) and ended at 90.3% validation accuracy (built-in set, 10 classes); step
# 3, 11 s, ended at 52% (best 56%) on the 50 held-out images (chance: 20%).
set -euo pipefail
out=${1:-runs/real-features}
target=${CARGO_TARGET_DIR:-target}
bin=${VGG_WGPU:-$target/release/vgg-wgpu}
shapes_bin=${NEW_SHAPES:-$target/release/examples/new_shapes_folder}
epochs=${EPOCHS:-14}
width_divisor=${WIDTH_DIVISOR:-8}
crop=${CROP:-64}
teach=${TEACH:-4}
held_out=${HELD_OUT:-10}

if [ ! -x "$bin" ]; then
    echo "no vgg-wgpu binary at $bin: build it (cargo build --release) or set VGG_WGPU" >&2
    exit 2
fi
if [ ! -x "$shapes_bin" ]; then
    cargo build --release --locked --example new_shapes_folder
fi
mkdir -p "$out"

# 1. The conv stack.
stack=(--config D --width-divisor "$width_divisor" --crop "$crop" --data builtin
       --epochs "$epochs" --out "$out/stack")
start=$SECONDS
if [ -f "$out/stack/model.safetensors" ]; then
    echo "== 1. $out/stack/model.safetensors exists: not trained again"
elif [ -f "$out/stack/checkpoint.safetensors" ]; then
    echo "== 1. continuing $out/stack"
    "$bin" train "${stack[@]}" --resume
else
    echo "== 1. training the conv stack: vgg-wgpu train ${stack[*]}"
    "$bin" train "${stack[@]}"
fi
echo "step 1: $((SECONDS - start)) s"

# 2. The new classes.
"$shapes_bin" "$out/shapes" $((teach + held_out)) "$crop"
rm -rf "$out/teach" "$out/held-out" "$out/task"
for dir in "$out"/shapes/*/; do
    class=$(basename "$dir")
    mkdir -p "$out/teach/$class" "$out/held-out/$class"
    for ((i = 0; i < teach + held_out; i++)); do
        name=$(printf '%03d.png' "$i")
        if ((i < teach)); then
            cp "$dir/$name" "$out/teach/$class/"
        else
            cp "$dir/$name" "$out/held-out/$class/"
        fi
    done
done
mkdir -p "$out/task"
cp -r "$out/teach" "$out/task/train"
cp -r "$out/held-out" "$out/task/val"

# 3. Baseline: the frozen features with a new classifier.
start=$SECONDS
"$bin" train --init "pretrained:$out/stack/model.safetensors" --freeze features \
    --data "$out/task" --batch 10 --epochs 30 --patience 100 --log-every 1 \
    --out "$out/frozen" --overwrite
echo "step 3: $((SECONDS - start)) s"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
for name, folder in [("conv stack, built-in set", "stack"),
                     ("frozen features, teach -> held-out", "frozen")]:
    with open(f"{out}/{folder}/metrics.jsonl") as f:
        acc = [1 - json.loads(l)["val_top1_err"] for l in f if '"kind":"epoch"' in l]
    print(f"{name}: validation accuracy {100 * acc[-1]:.1f}% after {len(acc)} epochs "
          f"(best {100 * max(acc):.1f}%)")
PY

# 4. The page, taught from OUT/teach and tested on OUT/held-out.
if [ -f web/pkg/vgg_wgpu_bg.wasm ]; then
    STEPS=300 LOSS=0.02 node web/test/teach_big.mjs "$out/stack/model.safetensors" "$out" |
        grep -v '^ *\[page\]'
else
    echo "step 4 skipped: build the page first (bash web/build.sh)"
fi
