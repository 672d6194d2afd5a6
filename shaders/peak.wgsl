// The adapter's own ceilings, for `vgg-wgpu bench peak`: how fast it multiplies and adds
// when nothing else limits it, and how fast it loads from a storage buffer. Kernel
// GFLOP/s mean little on their own; next to these they say how much of the adapter a
// kernel uses and what bounds it.
//
//   fma_peak:  x (count) -> out (count). Invocation i runs 16 independent chains of vec4
//              multiply-adds on values held in registers, `iterations` times two steps:
//                  a_c = fma(x, y_c, a_c)  for every chain c, then x = x · 0.99991
//                  a_c = fma(x, y_c, a_c)  for every chain c, then x = x · 0.99992
//              from x = x[i], a_c = x + c, y_c = Y rotated by c mod 4;
//              out[i] = Σ_c Σ_lanes a_c.
//              256 floating-point operations per invocation and iteration (the two
//              multiplies of x aside); the chains hide the multiply-add latency.
//   load_peak: src (src_len, a power of two) -> out (count). Invocation i sums
//              src[(i + k · count) mod src_len] for k < 4 · iterations: consecutive
//              invocations load consecutive floats, as a well-behaved kernel does.
//
// Only the final stores are bounds-checked: on CPU adapters (lavapipe) every write
// inside a branch that some invocations skip costs a masked blend, which would halve
// the measured peak.
//
// Oracle: src/oracle/peak.rs.

struct PeakParams {
    count: u32,       // invocations
    iterations: u32,
    src_mask: u32,    // load_peak: src_len − 1
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: PeakParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const Y = vec4<f32>(0.999, 0.998, 0.997, 0.996);

@compute @workgroup_size(WORKGROUP_SIZE)
fn fma_peak(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    let y0 = Y;
    let y1 = Y.yzwx;
    let y2 = Y.zwxy;
    let y3 = Y.wxyz;
    var x = vec4<f32>(src[min(index, p.count - 1u)]);
    // Distinct starting values, so that no compiler can merge two chains.
    var a0 = x; var a1 = x + 1.0; var a2 = x + 2.0; var a3 = x + 3.0;
    var a4 = x + 4.0; var a5 = x + 5.0; var a6 = x + 6.0; var a7 = x + 7.0;
    var a8 = x + 8.0; var a9 = x + 9.0; var a10 = x + 10.0; var a11 = x + 11.0;
    var a12 = x + 12.0; var a13 = x + 13.0; var a14 = x + 14.0; var a15 = x + 15.0;
    for (var it = 0u; it < p.iterations; it++) {
        a0 = fma(x, y0, a0); a1 = fma(x, y1, a1); a2 = fma(x, y2, a2); a3 = fma(x, y3, a3);
        a4 = fma(x, y0, a4); a5 = fma(x, y1, a5); a6 = fma(x, y2, a6); a7 = fma(x, y3, a7);
        a8 = fma(x, y0, a8); a9 = fma(x, y1, a9); a10 = fma(x, y2, a10); a11 = fma(x, y3, a11);
        a12 = fma(x, y0, a12); a13 = fma(x, y1, a13); a14 = fma(x, y2, a14); a15 = fma(x, y3, a15);
        x = x * 0.99991;
        a0 = fma(x, y0, a0); a1 = fma(x, y1, a1); a2 = fma(x, y2, a2); a3 = fma(x, y3, a3);
        a4 = fma(x, y0, a4); a5 = fma(x, y1, a5); a6 = fma(x, y2, a6); a7 = fma(x, y3, a7);
        a8 = fma(x, y0, a8); a9 = fma(x, y1, a9); a10 = fma(x, y2, a10); a11 = fma(x, y3, a11);
        a12 = fma(x, y0, a12); a13 = fma(x, y1, a13); a14 = fma(x, y2, a14); a15 = fma(x, y3, a15);
        x = x * 0.99992;
    }
    let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
          + (((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15)));
    if (index < p.count) { out[index] = (s.x + s.y) + (s.z + s.w); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn load_peak(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let index = flat_index(wid, nwg, lid);
    var sum = 0.0;
    var at = index;
    for (var k = 0u; k < p.iterations; k++) {
        // Four loads an iteration, so that the loop's own cost does not count.
        let a = src[at & p.src_mask];
        let b = src[(at + p.count) & p.src_mask];
        let c = src[(at + 2u * p.count) & p.src_mask];
        let d = src[(at + 3u * p.count) & p.src_mask];
        sum += (a + b) + (c + d);
        at += 4u * p.count;
    }
    if (index < p.count) { out[index] = sum; }
}
