// The page: wires files, the training loop and the chart to the wasm package in pkg/
// (built by build.sh from the crate's src/web.rs). Every GPU call is awaited through one
// queue, so the engine's objects are never used by two calls at once, and nothing waits
// synchronously on the GPU.
import init, { Gpu, samplePng, builtinClasses } from './pkg/vgg_wgpu.js';

const $ = (id) => document.getElementById(id);

// State the end-to-end test (test/e2e.mjs) reads.
const demo = (window.demo = {
  status: 'starting', // 'starting' | 'ready' | 'no-webgpu' | 'error'
  model: null, // describe() of the classifier in use
  result: null, // the last classification
  steps: [], // one report per training step
  stepping: false, // a training step is running on the GPU
  samplePng: null,
});

let gpu = null;
let classifier = null;
let trainer = null;
let training = false;

let queue = Promise.resolve();
function onGpu(task) {
  const run = queue.then(task);
  queue = run.catch(() => {});
  return run;
}

function say(id, text, error = false) {
  $(id).textContent = text;
  $(id).classList.toggle('error', error);
}

// --- WebGPU -----------------------------------------------------------------------------

const HOW_TO_ENABLE =
  'WebGPU ships in Chrome and Edge 113+ on Windows, macOS and ChromeOS and Chrome 121+ on Android; ' +
  'Safari 26+; Firefox 141+ on Windows (elsewhere Firefox Nightly with dom.webgpu.enabled in about:config). ' +
  'On Linux start Chrome or Chromium with --enable-unsafe-webgpu --enable-features=Vulkan ' +
  '(or turn on chrome://flags/#enable-unsafe-webgpu). WebGPU also needs a secure page: https:// or http://localhost.';

function noWebGpu(why) {
  demo.status = 'no-webgpu';
  const banner = $('no-webgpu');
  banner.hidden = false;
  banner.innerHTML = '';
  const strong = document.createElement('strong');
  strong.textContent = `${why} Classifying and training need it; the rest of the page still works.`;
  const p = document.createElement('p');
  p.textContent = HOW_TO_ENABLE;
  banner.append(strong, p);
  say('adapter', 'No WebGPU adapter.');
  for (const id of ['train-start', 'weights-file']) $(id).disabled = true;
  say('model-status', 'Models need WebGPU.');
}

async function openGpu() {
  if (!('gpu' in navigator)) {
    noWebGpu(window.isSecureContext
      ? 'This browser does not offer WebGPU (navigator.gpu is missing).'
      : 'WebGPU is only offered to secure pages (https:// or http://localhost), and this one is not.');
    return false;
  }
  try {
    gpu = await Gpu.open();
  } catch (e) {
    noWebGpu(`WebGPU is present but gave no usable adapter: ${e.message ?? e}.`);
    return false;
  }
  say('adapter', `WebGPU adapter: ${gpu.describe()}`);
  return true;
}

// --- Models ----------------------------------------------------------------------------

/// Reads a stream to the end, reporting bytes so far out of `total` (0 when unknown).
async function readAll(stream, total, progress) {
  const reader = stream.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    progress(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

function showProgress(what) {
  const bar = $('model-progress');
  bar.hidden = false;
  return (loaded, total) => {
    const mib = (n) => (n / 1048576).toFixed(1);
    if (total > 0) {
      bar.value = loaded / total;
      say('model-status', `Loading ${what}: ${mib(loaded)} of ${mib(total)} MiB`);
    } else {
      bar.removeAttribute('value');
      say('model-status', `Loading ${what}: ${mib(loaded)} MiB`);
    }
  };
}

async function useWeights(bytes, name) {
  say('model-status', `Checking ${name} and uploading it to the GPU…`);
  await new Promise((r) => setTimeout(r, 0)); // let the message paint
  const next = await onGpu(() => gpu.loadModel(bytes, name));
  setClassifier(next, name);
}

function setClassifier(next, name) {
  classifier?.free();
  classifier = next;
  demo.model = classifier.describe();
  $('model-progress').hidden = true;
  say('model-status', `${name}: ${demo.model}.`);
}

async function loadBundled() {
  const progress = showProgress('the bundled model');
  const response = await fetch('model.safetensors');
  if (!response.ok) throw new Error(`model.safetensors: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  const bytes = await readAll(response.body, total, progress);
  await useWeights(bytes, 'model.safetensors (bundled)');
}

$('weights-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file || !gpu) return;
  try {
    const bytes = await readAll(file.stream(), file.size, showProgress(file.name));
    await useWeights(bytes, file.name);
  } catch (e) {
    $('model-progress').hidden = true;
    say('model-status', `${file.name}: ${e.message ?? e}`, true);
  }
  event.target.value = '';
});

// --- Classify ---------------------------------------------------------------------------

// JPEG and PNG go to the engine, which decodes them exactly as `vgg-wgpu classify` does;
// other formats (WebP, GIF, ...) are decoded by the browser.
function engineDecodes(bytes) {
  const starts = (...magic) => magic.every((b, i) => bytes[i] === b);
  return starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47);
}

async function classifyBlob(blob, source) {
  if (!gpu) {
    say('classify-status', 'Classifying needs WebGPU (see above).', true);
    return;
  }
  if (!classifier) {
    say('classify-status', 'Load a model first.', true);
    return;
  }
  say('classify-status', `Classifying ${source}…`);
  try {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const start = performance.now();
    let r;
    if (engineDecodes(bytes)) {
      r = await onGpu(() => classifier.classify(bytes, 5));
    } else {
      const rgba = await browserDecode(blob).catch(() => {
        throw new Error('not an image this browser can decode');
      });
      r = await onGpu(() => classifier.classifyRgba(rgba.width, rgba.height, rgba.data, 5));
    }
    const ms = performance.now() - start;
    showResult(r, source, ms);
    r.free();
  } catch (e) {
    say('classify-status', `${source}: ${e.message ?? e}`, true);
  }
}

async function browserDecode(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d');
  g.drawImage(bitmap, 0, 0);
  const data = g.getImageData(0, 0, bitmap.width, bitmap.height);
  return { width: data.width, height: data.height, data: new Uint8Array(data.data.buffer) };
}

function showResult(r, source, ms) {
  const probabilities = Array.from(r.probabilities);
  const classes = Array.from(r.classes);
  const names = r.names;
  demo.result = { source, classes, names, probabilities, ms, evalSeconds: r.seconds };

  const canvas = $('heatmap');
  canvas.width = r.width;
  canvas.height = r.height;
  const pixels = new ImageData(new Uint8ClampedArray(r.heatmap), r.width, r.height);
  canvas.getContext('2d').putImageData(pixels, 0, 0);
  const cells = `${r.map_height}×${r.map_width}`;
  $('heatmap-caption').textContent =
    r.map_width * r.map_height > 1
      ? `Score map of “${names[0]}” (${cells} cells, finest scale) over ${source}: red where the network sees it most.`
      : `Score map of “${names[0]}” over ${source}: one cell at this image size, so one colour.`;

  const list = $('top5');
  list.innerHTML = '';
  classes.forEach((c, i) => {
    const p = probabilities[c];
    const li = document.createElement('li');
    const label = document.createElement('div');
    label.className = 'label';
    const name = document.createElement('span');
    name.textContent = names[i];
    const value = document.createElement('span');
    value.textContent = `${(100 * p).toFixed(2)}%`;
    label.append(name, value);
    const bar = document.createElement('div');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    li.append(label, bar);
    list.append(li);
  });
  say('timing', `${ms.toFixed(0)} ms in all (the network: ${(1000 * r.seconds).toFixed(0)} ms).`);
  $('result').hidden = false;
  say('classify-status', '');
}

function fromFiles(files) {
  const file = [...files].find((f) => f.type.startsWith('image/')) ?? files[0];
  if (file) classifyBlob(file, file.name || 'the pasted image');
}

$('image-file').addEventListener('change', (e) => {
  fromFiles(e.target.files);
  e.target.value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  fromFiles(e.dataTransfer.files);
});
document.addEventListener('paste', (e) => {
  const files = [...e.clipboardData.items]
    .filter((item) => item.kind === 'file')
    .map((item) => item.getAsFile());
  if (files.length) fromFiles(files);
});

// The webcam, where the browser has one and the user allows it (a secure context:
// https or localhost). A frame is classified like a pasted PNG.
let webcamStream = null;
$('webcam-start').addEventListener('click', async () => {
  if (!navigator.mediaDevices?.getUserMedia) {
    say('classify-status', 'This browser offers no webcam access here (it needs https or localhost).', true);
    return;
  }
  try {
    webcamStream = await navigator.mediaDevices.getUserMedia({ video: true });
  } catch (e) {
    say('classify-status', `No webcam: ${e.message || e.name}.`, true);
    return;
  }
  $('webcam-video').srcObject = webcamStream;
  $('webcam').hidden = false;
  say('classify-status', '');
});
$('webcam-snap').addEventListener('click', () => {
  const video = $('webcam-video');
  if (!video.videoWidth) return; // no frame yet
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  canvas.toBlob((blob) => blob && classifyBlob(blob, 'the webcam frame'), 'image/png');
});
$('webcam-stop').addEventListener('click', () => {
  webcamStream?.getTracks().forEach((t) => t.stop());
  webcamStream = null;
  $('webcam').hidden = true;
});

function showSamples() {
  const classes = builtinClasses();
  const box = $('samples');
  for (let i = 0; i < classes.length; i++) {
    const png = samplePng(i, 96);
    const blob = new Blob([png], { type: 'image/png' });
    const button = document.createElement('button');
    button.dataset.index = i;
    button.title = `validation image ${i}: ${classes[i % classes.length]}`;
    const img = document.createElement('img');
    img.src = URL.createObjectURL(blob);
    img.alt = classes[i % classes.length];
    button.append(img);
    button.addEventListener('click', () => classifyBlob(blob, `sample ${i} (${img.alt})`));
    box.append(button);
  }
}

// --- Train ------------------------------------------------------------------------------

const chart = $('chart');
function drawChart() {
  const g = chart.getContext('2d');
  const { width: w, height: h } = chart;
  const pad = { l: 44, r: 44, t: 12, b: 24 };
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  const steps = demo.steps;
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

async function trainLoop() {
  while (training) {
    demo.stepping = true;
    const r = await onGpu(() => trainer.step()).finally(() => (demo.stepping = false));
    const s = { step: r.step, epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, imagesPerS: r.images_per_s };
    r.free();
    demo.steps.push(s);
    const recent = demo.steps.slice(-10);
    const rate = recent.reduce((a, t) => a + t.imagesPerS, 0) / recent.length;
    say('train-status',
      `Epoch ${s.epoch + 1}, step ${s.step} (${trainer.stepsPerEpoch} per epoch): ` +
      `loss ${s.loss.toFixed(3)}, batch accuracy ${(100 * s.accuracy).toFixed(1)}%, ` +
      `${rate.toFixed(0)} images/s`);
    drawChart();
    await new Promise((r) => setTimeout(r, 0)); // let the page handle events between steps
  }
}

$('train-start').addEventListener('click', async () => {
  const button = $('train-start');
  if (training) {
    training = false;
    button.textContent = 'Resume';
    return;
  }
  try {
    if (!trainer) {
      button.disabled = true;
      say('train-status', 'Compiling the training plan…');
      const images = Number($('train-images').value);
      const batch = Number($('batch').value);
      trainer = await onGpu(() => gpu.trainer(images, batch, Number($('lr').value), 0));
      $('train-images').disabled = true;
      $('batch').disabled = true;
      button.disabled = false;
      $('train-use').disabled = false;
      $('train-save').disabled = false;
    }
    trainer.setLearningRate(Number($('lr').value));
    training = true;
    button.textContent = 'Pause';
    await trainLoop();
  } catch (e) {
    training = false;
    button.disabled = false;
    button.textContent = trainer ? 'Resume' : 'Start training';
    say('train-status', `Training failed: ${e.message ?? e}`, true);
  }
});

$('lr').addEventListener('change', () => trainer?.setLearningRate(Number($('lr').value)));

$('train-use').addEventListener('click', async () => {
  try {
    const next = await onGpu(() => trainer.classifier());
    setClassifier(next, `the network trained here (step ${demo.steps.length})`);
  } catch (e) {
    say('train-status', `No classifier from the trained network: ${e.message ?? e}`, true);
  }
});

$('train-save').addEventListener('click', async () => {
  try {
    const bytes = await onGpu(() => trainer.safetensors());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes]));
    a.download = `vgg-a-builtin-step${demo.steps.length}.safetensors`;
    a.click();
  } catch (e) {
    say('train-status', `No weights file: ${e.message ?? e}`, true);
  }
});

// --- Start ------------------------------------------------------------------------------

async function main() {
  await init();
  demo.samplePng = samplePng;
  showSamples();
  drawChart();
  if (!(await openGpu())) return;
  try {
    await loadBundled();
    demo.status = 'ready';
  } catch (e) {
    demo.status = 'error';
    say('model-status', `The bundled model did not load: ${e.message ?? e}`, true);
  }
}

main().catch((e) => {
  demo.status = 'error';
  say('adapter', `The page failed to start: ${e.message ?? e}`, true);
});
