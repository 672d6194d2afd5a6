#!/usr/bin/env bash
# The real-GPU check behind BENCHMARKS.md, as one script for a machine that has a GPU but
# no Rust toolchain (build here, run there):
#
#   bash benches/gpu-check.sh build           # release binary + kernel tests -> gpu-check/
#   bash benches/gpu-check.sh run OUT_DIR     # on the GPU machine, from the repository root
#
# `run` first checks every kernel against the CPU oracle on that GPU (the adapter whose
# name contains $VGG_WGPU_ADAPTER, default "nvidia"; the tests fail if there is none),
# then times: the adapter's own ceilings (bench peak), VGG-16's conv layers at 224×224
# (bench kernels, with each pass as a share of the multiply-add peak), and whole
# training steps of VGG-16 and of the small net (bench step). Where python3 has PyTorch
# with CUDA (as on the lent GPU machines), it also times the same steps in PyTorch and
# `classify` with torchvision's VGG-16 (random weights) in both protocols. Text and JSON go
# to OUT_DIR. Budget: about 5 minutes on an H100 after the binaries are there.
set -euo pipefail

here=gpu-check

case "${1:-}" in
build)
    mkdir -p "$here"
    cargo build --release --locked --bin vgg-wgpu
    cp "${CARGO_TARGET_DIR:-target}/release/vgg-wgpu" "$here/"
    tests=$(cargo test --release --locked --test kernels --no-run --message-format=json |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "kernels":
        print(m["executable"])')
    cp "$tests" "$here/kernel-tests"
    ls -l "$here"
    ;;
run)
    out=${2:?usage: gpu-check.sh run OUT_DIR}
    mkdir -p "$out"
    export VGG_WGPU_ADAPTER=${VGG_WGPU_ADAPTER:-nvidia}
    bin=$here/vgg-wgpu
    "$bin" info 2>&1 | tee "$out/info.txt"
    echo "== kernel tests against the oracle on $VGG_WGPU_ADAPTER"
    # Tests print their own errors; a failure ends the check before any timing.
    "$here/kernel-tests" 2>&1 | tee "$out/kernel-tests.txt" | grep -E "^test result|FAILED|panicked" || true
    grep -q "^test result: ok" "$out/kernel-tests.txt"
    bench() { "$bin" bench "$@" --no-cpu-reference; }
    echo "== adapter ceilings"
    bench peak --min-seconds 1 | tee "$out/peak.txt"
    bench peak --min-seconds 1 --json >"$out/peak.json"
    echo "== VGG-16 conv layers, 224×224, batch 16"
    bench kernels --size 224 --batch 16 --min-seconds 0.3 | tee "$out/kernels-224-b16.txt"
    echo "== training steps"
    bench step --config D --size 224 --batch 32 --min-seconds 3 --profile | tee "$out/step-vgg16.txt"
    bench step --config A --width-divisor 8 --size 32 --batch 32 --classes 10 --min-seconds 2 |
        tee "$out/step-small.txt"
    if python3 -c 'import torch, torchvision, safetensors; assert torch.cuda.is_available()' 2>/dev/null; then
        echo "== the same steps in PyTorch on CUDA (strict fp32), the reference"
        { python3 benches/pytorch_step.py --device cuda --config D --width-divisor 1 --size 224 \
            --batch 32 --classes 1000 --min-seconds 3
          python3 benches/pytorch_step.py --device cuda --config A --width-divisor 8 --size 32 \
            --batch 32 --classes 10 --min-seconds 2; } | tee "$out/step-pytorch-cuda.txt"
        echo "== a real model: torchvision's VGG-16 (random weights), classify's two protocols"
        real=$(mktemp -d)
        python3 -c 'import sys, torch, torchvision
from PIL import Image
from safetensors.torch import save_file
torch.manual_seed(0)
save_file({k: v.contiguous() for k, v in torchvision.models.vgg16().state_dict().items()},
          sys.argv[1] + "/vgg16.safetensors")
for i in range(8):
    Image.effect_mandelbrot((224 + 37 * i, 224 + 16 * i), (-2, -1.5, 1, 1.5), 20 + i).convert("RGB").save(f"{sys.argv[1]}/photo{i}.png")' "$real"
        {
            for protocol in "--scales 224 --no-flip" ""; do
                echo "-- classify $protocol: one photo, then eight"
                for photos in "$real/photo0.png" "$real/photo*.png"; do
                    start=$EPOCHREALTIME
                    "$bin" classify --weights "$real/vgg16.safetensors" $protocol --top 1 $photos >/dev/null
                    python3 -c "print('$(echo $photos | wc -w) photo(s): %.2f s (whole process)' % ($EPOCHREALTIME - $start))"
                done
            done
        } 2>&1 | tee "$out/classify-vgg16.txt"
        rm -rf "$real"
    fi
    ;;
*)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
