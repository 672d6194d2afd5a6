#!/usr/bin/env bash
# The real-GPU check behind BENCHMARKS.md, as one script for a machine that has a GPU but
# no Rust toolchain (build here, run there):
#
#   bash benches/gpu-check.sh build           # release binary + kernel tests -> gpu-check/
#   bash benches/gpu-check.sh run OUT_DIR     # on the GPU machine, from the repository root
#
# `run` first checks every kernel against the CPU oracle on that GPU (the adapter whose
# name contains $VGG_WGPU_ADAPTER, default "nvidia"; the tests fail if there is none),
# then times: the adapter's own ceilings (bench peak); VGG-16's conv layers at 224×224,
# batch 16 (bench kernels, each pass as a share of the multiply-add peak) with the
# default kernels, the older subgroup kernels (VGG_WGPU_NO_TILES=1), the kernels without
# subgroups that a browser on that GPU runs (VGG_WGPU_NO_SUBGROUPS=1) and each tile group
# (VGG_WGPU_TILE_GROUP=4, 8, 16); whole training steps of VGG-16, default and older
# kernels, and of the small net (bench step); one epoch of `train` on an ImageNet-style
# folder of JPEGs made there (benches/make_jpeg_folder.py), to set beside bench step's
# rate; and the data loader alone on that folder (bench loader). Where python3 has PyTorch
# with CUDA (as on the lent GPU machines), it also times the same steps in PyTorch and
# `classify` with torchvision's VGG-16 (random weights) in both protocols; where it has
# torchvision, torchvision's loader on the same folder. A missing PyTorch skips only
# those; any other failure stops the check, naming its section. Every number goes to a
# file in OUT_DIR, each section's seconds to OUT_DIR/timing.txt, and the summary
# (benches/gpu_check_summary.py) to OUT_DIR/summary.txt and the screen, last.
# Budget: about 6 minutes on an H100 after the binaries are there.
#
# GPU_CHECK_QUICK=1 runs the same flow at tiny sizes and durations, without the kernel
# tests and with PyTorch on the CPU where it has no CUDA: a few minutes on a CPU adapter
# (VGG_WGPU_ADAPTER=llvmpipe), to try the script itself.
set -Eeuo pipefail

here=gpu-check

# The network, batch and durations of each measurement: the real check, or the quick one.
if [[ ${GPU_CHECK_QUICK:-0} == 1 ]]; then
    quick=1
    kernels_net=(--size 32 --batch 2 --width-divisor 4)
    kernels_seconds=0 variant_seconds=0 peak_seconds=0.2
    # VGG-16 (config D) as bench step, train and the loader take it.
    width=8 size=32 batch=8 scale=36:48
    step_seconds=0 variant_step_seconds=0 small_batch=8 small_seconds=0
    # Training images; the folder adds 8 validation images per generating process.
    jpeg_images=96 loader_seconds=0.5
else
    quick=0
    kernels_net=(--size 224 --batch 16)
    kernels_seconds=0.3 variant_seconds=0.15 peak_seconds=1
    width=1 size=224 batch=32 scale=256:512
    step_seconds=3 variant_step_seconds=2 small_batch=32 small_seconds=2
    # 187 steps of 32: under train's default checkpoint interval (200 steps), so no
    # checkpoint falls inside the epoch's timing; about 30 s at 200 images/s.
    jpeg_images=6000 loader_seconds=2
fi
vgg16=(--config D --width-divisor "$width")
cores=$(nproc)

# Starts section $1 (its name in timing.txt; $2 is its heading) and ends the one before.
section() {
    end_section
    section_name=$1
    section_start=${EPOCHREALTIME//[!0-9]/}
    echo "== $2"
}
end_section() {
    if [[ -n ${section_name:-} ]]; then
        local us=$((${EPOCHREALTIME//[!0-9]/} - section_start))
        printf '%-22s %7.1f s\n' "$section_name" "$((us / 1000))e-3" >>"$out/timing.txt"
    fi
    section_name=
}

# Writes $2 training images (and a few validation images) into the new folder $1, in
# parts made side by side, one per core up to 16, each under class names of its own.
make_jpeg_folder() {
    local folder=$1 images=$2 parts=$((cores < 16 ? cores : 16)) pids=() p split class
    for ((p = 0; p < parts; p++)); do
        python3 benches/make_jpeg_folder.py $((images / parts + (p < images % parts))) \
            "$scratch/part$p" --seed "$p" >/dev/null &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    mkdir -p "$folder/train" "$folder/val"
    for ((p = 0; p < parts; p++)); do
        for split in train val; do
            for class in "$scratch/part$p/$split"/*; do
                mv "$class" "$folder/$split/part${p}_${class##*/}"
            done
        done
    done
    echo "$folder: $images training JPEGs in $parts parts ($(find "$folder/val" -name '*.jpg' | wc -l) for validation)"
}

case "${1:-}" in
build)
    mkdir -p "$here"
    # No `--features mpi`: the binary must start where Open MPI's libraries are not.
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
    rm -f "$out/timing.txt"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    trap 'echo "gpu-check: section ${section_name:-?} failed (line $LINENO); its output is in $out" >&2' ERR
    export VGG_WGPU_ADAPTER=${VGG_WGPU_ADAPTER:-nvidia}
    bin=$here/vgg-wgpu
    bench() { "$bin" bench "$@" --no-cpu-reference; }
    torch_device=
    if python3 -c 'import torch, torchvision, safetensors; assert torch.cuda.is_available()' 2>/dev/null; then
        torch_device=cuda
    elif [[ $quick == 1 ]] && python3 -c 'import torch, torchvision, safetensors' 2>/dev/null; then
        torch_device=cpu
    fi
    no_torch="skipped: python3 has no PyTorch with CUDA (torch, torchvision, safetensors)"

    section info "the adapter"
    "$bin" info 2>&1 | tee "$out/info.txt"

    section kernel-tests "kernel tests against the oracle on $VGG_WGPU_ADAPTER"
    if [[ $quick == 1 ]]; then
        echo "skipped: GPU_CHECK_QUICK=1" | tee "$out/kernel-tests.txt"
    else
        # Tests print their own errors; a failure ends the check before any timing.
        "$here/kernel-tests" 2>&1 | tee "$out/kernel-tests.txt" | grep -E "^test result|FAILED|panicked" || true
        grep -q "^test result: ok" "$out/kernel-tests.txt"
    fi

    section peak "adapter ceilings"
    bench peak --min-seconds "$peak_seconds" | tee "$out/peak.txt"
    bench peak --min-seconds "$peak_seconds" --json >"$out/peak.json"

    section kernels "VGG-16 conv layers (${kernels_net[*]})"
    bench kernels "${kernels_net[@]}" --min-seconds "$kernels_seconds" | tee "$out/kernels.txt"
    echo "-- the older subgroup kernels (VGG_WGPU_NO_TILES=1)"
    VGG_WGPU_NO_TILES=1 bench kernels "${kernels_net[@]}" --min-seconds "$kernels_seconds" |
        tee "$out/kernels-no-tiles.txt"

    section kernel-variants "the same layers: no subgroups (as a browser), each tile group"
    VGG_WGPU_NO_SUBGROUPS=1 bench kernels "${kernels_net[@]}" --min-seconds "$variant_seconds" |
        tee "$out/kernels-no-subgroups.txt"
    for group in 4 8 16; do
        echo "-- VGG_WGPU_TILE_GROUP=$group"
        VGG_WGPU_TILE_GROUP=$group bench kernels "${kernels_net[@]}" --min-seconds "$variant_seconds" |
            tee "$out/kernels-tile-group-$group.txt"
    done

    section steps "training steps"
    bench step "${vgg16[@]}" --size "$size" --batch "$batch" --min-seconds "$step_seconds" --profile |
        tee "$out/step-vgg16.txt"
    echo "-- the older subgroup kernels (VGG_WGPU_NO_TILES=1)"
    VGG_WGPU_NO_TILES=1 bench step "${vgg16[@]}" --size "$size" --batch "$batch" \
        --min-seconds "$variant_step_seconds" --profile | tee "$out/step-vgg16-no-tiles.txt"
    bench step --config A --width-divisor 8 --size 32 --batch "$small_batch" --classes 10 \
        --min-seconds "$small_seconds" | tee "$out/step-small.txt"

    section pytorch-steps "the same steps in PyTorch (strict fp32), the reference"
    if [[ -n $torch_device ]]; then
        { python3 benches/pytorch_step.py --device "$torch_device" "${vgg16[@]}" --size "$size" \
            --batch "$batch" --classes 1000 --min-seconds "$step_seconds"
          python3 benches/pytorch_step.py --device "$torch_device" --config A --width-divisor 8 \
            --size 32 --batch "$small_batch" --classes 10 --min-seconds "$small_seconds"; } |
            tee "$out/step-pytorch.txt"
    else
        echo "$no_torch" | tee "$out/step-pytorch.txt"
    fi

    section classify "a real model: torchvision's VGG-16 (random weights), classify's two protocols"
    if [[ -n $torch_device ]]; then
        real=$scratch/real
        mkdir "$real"
        photos=$((quick == 1 ? 2 : 8))
        python3 -c 'import sys, torch, torchvision
from PIL import Image
from safetensors.torch import save_file
torch.manual_seed(0)
save_file({k: v.contiguous() for k, v in torchvision.models.vgg16().state_dict().items()},
          sys.argv[1] + "/vgg16.safetensors")
for i in range(int(sys.argv[2])):
    Image.effect_mandelbrot((224 + 37 * i, 224 + 16 * i), (-2, -1.5, 1, 1.5), 20 + i).convert("RGB").save(f"{sys.argv[1]}/photo{i}.png")' "$real" "$photos"
        {
            for protocol in "--scales 224 --no-flip" ""; do
                echo "-- classify $protocol: one photo, then $photos"
                for each in "$real/photo0.png" "$real/photo*.png"; do
                    start=$EPOCHREALTIME
                    "$bin" classify --weights "$real/vgg16.safetensors" $protocol --top 1 $each >/dev/null
                    python3 -c "print('$(echo $each | wc -w) photo(s): %.2f s (whole process)' % ($EPOCHREALTIME - $start))"
                done
            done
        } 2>&1 | tee "$out/classify-vgg16.txt"
        rm -rf "$real"
    else
        echo "$no_torch" | tee "$out/classify-vgg16.txt"
    fi

    section jpeg-folder "an ImageNet-style folder of $jpeg_images JPEGs"
    jpegs=$scratch/jpegs
    make_jpeg_folder "$jpegs" "$jpeg_images" | tee "$out/jpeg-folder.txt"

    section train "one epoch of train on it, VGG-16 (${vgg16[*]}), batch $batch, default workers"
    "$bin" train "${vgg16[@]}" --crop "$size" --scale "$scale" --batch "$batch" --data "$jpegs" \
        --epochs 1 --log-every 1 --out "$scratch/run" 2>&1 | tee "$out/train-vgg16.txt"
    cp "$scratch/run/metrics.jsonl" "$out/train-metrics.jsonl"
    rm -rf "$scratch/run"

    section loader "the training loader alone on the folder (bench loader), and torchvision's"
    loader=(--data "$jpegs" --crop "$size" --scale "$scale" --batch "$batch" --min-seconds "$loader_seconds")
    bench loader "${loader[@]}" | tee "$out/loader.txt"
    if python3 -c 'import torch, torchvision' 2>/dev/null; then
        python3 benches/torchvision_loader.py "${loader[@]}" | tee "$out/loader-torchvision.txt"
    else
        echo "skipped: python3 has no torch and torchvision" | tee "$out/loader-torchvision.txt"
    fi
    end_section

    echo "== summary"
    python3 benches/gpu_check_summary.py "$out" | tee "$out/summary.txt"
    ;;
*)
    sed -n '2,28p' "$0"
    exit 2
    ;;
esac
