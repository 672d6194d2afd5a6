// What every part of the page shares: element lookup, status lines, the state the
// end-to-end test reads, the engine objects in use, the one queue of GPU calls, and the
// loss/accuracy chart.

export const $ = (id) => document.getElementById(id);

// State the end-to-end test (test/e2e.mjs) reads.
export const demo = (window.demo = {
  status: 'starting', // 'starting' | 'ready' | 'no-webgpu' | 'error'
  model: null, // describe() of the classifier in use
  engine: null, // where it classifies: 'WebGPU' or the CPU engine
  result: null, // the last classification
  steps: [], // one report per training step
  stepping: false, // a training step is running on the GPU
  samplePng: null,
  wasmBytes: null, // () => the size of the engine's wasm memory (it never shrinks)
  progress: [], // [scales done, scales] of the classification running or last run
  // The teach panel's: views through the frozen layers, each example's milliseconds,
  // and a timeline of examples added and ready and of teaching's start.
  teach: { steps: [], stepping: false, note: null, live: [], frontPasses: 0, views: 0, exampleMs: [], timeline: [] },
});

// The engine's objects in use: the WebGPU device and the model that classifies.
export const engine = { gpu: null, classifier: null };

// Every GPU call is awaited through this one queue, so the engine's objects are never
// used by two calls at once.
let queue = Promise.resolve();
export function onGpu(task) {
  const run = queue.then(task);
  queue = run.catch(() => {});
  return run;
}

export function say(id, text, error = false) {
  $(id).textContent = text;
  $(id).classList.toggle('error', error);
}

/// Loss and batch accuracy of `steps` on `chart`.
export function drawChart(chart = $('chart'), steps = demo.steps) {
  const g = chart.getContext('2d');
  const { width: w, height: h } = chart;
  const pad = { l: 44, r: 44, t: 12, b: 24 };
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  const maxLoss = Math.max(2.5, ...steps.map((s) => s.loss));
  const n = Math.max(10, steps.length);
  const x = (i) => pad.l + ((w - pad.l - pad.r) * i) / (n - 1);
  const yl = (v) => pad.t + (h - pad.t - pad.b) * (1 - v / maxLoss);
  const ya = (v) => pad.t + (h - pad.t - pad.b) * (1 - v);
  g.strokeStyle = '#d8dde6';
  g.fillStyle = '#5b6475';
  for (let k = 0; k <= 4; k++) {
    const y = ya(k / 4);
    g.beginPath();
    g.moveTo(pad.l, y);
    g.lineTo(w - pad.r, y);
    g.stroke();
    g.fillText((maxLoss * k / 4).toFixed(1), 6, y + 4);
    g.fillText(`${25 * k}%`, w - pad.r + 6, y + 4);
  }
  g.fillText(`step ${steps.length}`, w - pad.r - 50, h - 6);
  // Exponential moving averages, so the per-batch noise does not hide the trend.
  const line = (values, y, colour) => {
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    let avg = values[0];
    values.forEach((v, i) => {
      avg = i === 0 ? v : 0.9 * avg + 0.1 * v;
      i === 0 ? g.moveTo(x(i), y(avg)) : g.lineTo(x(i), y(avg));
    });
    g.stroke();
    g.lineWidth = 1;
  };
  if (steps.length) {
    line(steps.map((s) => s.loss), yl, '#2f6fde');
    line(steps.map((s) => s.accuracy), ya, '#e0752d');
  }
  g.fillStyle = '#2f6fde';
  g.fillText('— loss (left axis)', pad.l + 4, h - 6);
  g.fillStyle = '#e0752d';
  g.fillText('— batch accuracy (right axis)', pad.l + 120, h - 6);
}
