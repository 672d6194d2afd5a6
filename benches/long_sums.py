"""What PyTorch's fp32 reaches on the sums of tests/kernels/long_sums.rs, on the very same
inputs: the bounds there are these errors times a margin.

    python3 benches/long_sums.py

Each error is ‖fp32 − f64‖ / ‖f64‖, the f64 result rounded to f32 first, as the Rust
tests compare against the oracle's f32 output.
"""

import numpy as np
import torch
import torch.nn.functional as F

MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def hashed(n, stream, signed):
    """`hashed` of tests/kernels/long_sums.rs: SplitMix64 of `stream << 32 | i`."""
    with np.errstate(over="ignore"):
        z = (np.uint64(stream) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)
    return torch.from_numpy(2 * u - 1 if signed else u)


def error(name, fp32, f64):
    reference = f64.float().double()
    relative = ((fp32.double() - reference).norm() / reference.norm()).item()
    print(f"{name}: relative error {relative:.3e}")


def both(f, *inputs):
    """f on the inputs in fp32 and in f64."""
    return f(*inputs), f(*(t.double() for t in inputs))


def fc6_forward():
    x = hashed(2 * 25088, 1, False).reshape(2, 25088)
    w = hashed(64 * 25088, 2, True).reshape(64, 25088)
    error("fc6 forward", *both(F.linear, x, w))


def fc_input_gradient():
    w = hashed(4096 * 64, 3, True).reshape(4096, 64)
    dy = hashed(2 * 4096, 4, True).reshape(2, 4096)
    error("fc input gradient", *both(torch.matmul, dy, w))


def conv_weight_gradient(c, o):
    x = hashed(2 * c * 224 * 224, 5, False).reshape(2, c, 224, 224)
    dy = hashed(2 * o * 224 * 224, 6, True).reshape(2, o, 224, 224)

    def gradients(x, dy):
        w = torch.zeros(o, c, 3, 3, dtype=x.dtype, requires_grad=True)
        b = torch.zeros(o, dtype=x.dtype, requires_grad=True)
        F.conv2d(x, w, b, padding=1).backward(dy)
        return w.grad, b.grad

    (dw, db), (dw64, db64) = both(gradients, x, dy)
    error(f"conv {c}→{o} @224 dweight", dw, dw64)
    error(f"conv {c}→{o} @224 dbias", db, db64)


def conv_over_512_channels():
    x = hashed(2 * 512 * 14 * 14, 7, False).reshape(2, 512, 14, 14)
    w = hashed(16 * 512 * 9, 8, True).reshape(16, 512, 3, 3)
    error("conv 512→16 @14 forward", *both(lambda x, w: F.conv2d(x, w, padding=1), x, w))
    w = hashed(512 * 16 * 9, 9, True).reshape(512, 16, 3, 3)
    dy = hashed(2 * 512 * 14 * 14, 10, True).reshape(2, 512, 14, 14)

    def input_gradient(w, dy):
        x = torch.zeros(2, 16, 14, 14, dtype=w.dtype, requires_grad=True)
        F.conv2d(x, w, padding=1).backward(dy)
        return x.grad

    error("conv 16←512 @14 input gradient", *both(input_gradient, w, dy))


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}")
    fc6_forward()
    fc_input_gradient()
    conv_weight_gradient(32, 16)
    conv_weight_gradient(3, 16)
    conv_over_512_channels()
