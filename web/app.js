// The page: wires files, the training loop and the chart to the wasm package in pkg/
// (built by build.sh from the crate's src/web.rs). Every GPU call is awaited through one
// queue, so the engine's objects are never used by two calls at once, and nothing waits
// synchronously on the GPU.
import init, { Gpu, ModelBytes, samplePng, builtinClasses } from './pkg/vgg_wgpu.js';

const $ = (id) => document.getElementById(id);

// State the end-to-end test (test/e2e.mjs) reads.
const demo = (window.demo = {
  status: 'starting', // 'starting' | 'ready' | 'no-webgpu' | 'error'
  model: null, // describe() of the classifier in use
  result: null, // the last classification
  steps: [], // one report per training step
  stepping: false, // a training step is running on the GPU
  samplePng: null,
  progress: [], // [scales done, scales] of the classification running or last run
  teach: { steps: [], stepping: false, note: null, live: [] }, // the teach panel's
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
  for (const id of ['train-start', 'weights-file', 'teach-start']) $(id).disabled = true;
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

/// Reads a weight file's stream to the end straight into the engine, which converts
/// each tensor as its bytes come (no copy of the whole file is held anywhere), reporting
/// bytes so far out of `total` (0 when unknown).
async function readModel(stream, total, name, progress) {
  const bytes = new ModelBytes(name);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes.push(value);
      progress(bytes.length, total);
    }
  } catch (e) {
    bytes.free();
    throw e;
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
  // The paper's protocol unless the user chose, or the model is ImageNet-sized (its
  // paper protocol is about 8 passes: minutes on a CPU adapter).
  const quick = chosenProtocol ? chosenProtocol === 'quick' : classifier.inputSize >= 224;
  document.querySelector(`#protocol input[value=${quick ? 'quick' : 'paper'}]`).checked = true;
  classifier.quick = quick;
  showProtocols();
}

// --- The protocol: quick (one pass) or the paper's (three scales with flips) ------------

let chosenProtocol = null; // 'quick' | 'paper' once the user picks one
let secondsPerPass = null; // measured by the last classification

/// Each protocol's work for a square image of the model's input size, and its time at
/// the speed the last classification measured.
function showProtocols() {
  for (const quick of [true, false]) {
    const key = quick ? 'quick' : 'paper';
    const side = classifier.inputSize;
    const passes = classifier.passes(side, side, quick);
    const time = secondsPerPass ? `, about ${(passes * secondsPerPass).toFixed(1)} s here` : '';
    $(`${key}-text`).textContent = classifier.protocolText(quick);
    $(`${key}-cost`).textContent =
      `(${passes.toFixed(1)} passes of a ${side}×${side} image${time})`;
  }
}

for (const input of document.querySelectorAll('#protocol input')) {
  input.addEventListener('change', () => {
    chosenProtocol = input.value;
    if (classifier) classifier.quick = input.value === 'quick';
  });
}

/// The weights at `url`: the bundled model, or `?model=URL`'s.
async function loadUrl(url, name) {
  const progress = showProgress(name);
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(
      `could not fetch ${url} (${e.message ?? e}); a server of another origin must allow ` +
        'this page by CORS (Access-Control-Allow-Origin)');
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  const bytes = await readModel(response.body, total, name, progress);
  await useWeights(bytes, name);
}

$('weights-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file || !gpu) return;
  try {
    const bytes = await readModel(file.stream(), file.size, file.name, showProgress(file.name));
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
  const bar = $('classify-progress');
  demo.progress = [];
  const progress = (done, total) => {
    demo.progress.push([done, total]);
    bar.hidden = false;
    bar.value = done / total;
    say('classify-status', `Classifying ${source}: scale ${done} of ${total} done…`);
  };
  try {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const start = performance.now();
    let r;
    if (engineDecodes(bytes)) {
      r = await onGpu(() => classifier.classify(bytes, 5, progress));
    } else {
      const rgba = await browserDecode(blob).catch(() => {
        throw new Error('not an image this browser can decode');
      });
      r = await onGpu(() => classifier.classifyRgba(rgba.width, rgba.height, rgba.data, 5, progress));
    }
    const ms = performance.now() - start;
    secondsPerPass = r.seconds / r.passes;
    showResult(r, source, ms);
    showProtocols();
    r.free();
  } catch (e) {
    say('classify-status', `${source}: ${e.message ?? e}`, true);
  } finally {
    bar.hidden = true;
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
  demo.result = { source, classes, names, probabilities, ms, evalSeconds: r.seconds, passes: r.passes };

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
  say('timing',
    `${ms.toFixed(0)} ms in all (the network: ${(1000 * r.seconds).toFixed(0)} ms for ` +
    `${r.passes.toFixed(1)} passes of a ${classifier.inputSize}×${classifier.inputSize} image).`);
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
  await $('webcam-video').play(); // not autoplay, which pauses while out of view
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

/// Loss and batch accuracy of `steps` on `chart`.
function drawChart(chart = $('chart'), steps = demo.steps) {
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

// --- Teach it your own classes -------------------------------------------------------

const MAX_CLASSES = 10;
const teach = {
  classes: [], // { name input, count element, thumbs element, examples: [example] }
  teacher: null, // made by the first press of Teach, from the model loaded then
  running: false,
  live: false,
};

/// An example as the engine takes it, with a thumbnail: a file's bytes (JPEG and PNG
/// decoded by the engine, as the CLI would) or RGBA pixels the browser decoded.
async function exampleFromBlob(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const url = URL.createObjectURL(blob);
  if (engineDecodes(bytes)) return { bytes, url };
  const rgba = await browserDecode(blob).catch(() => {
    throw new Error('not an image this browser can decode');
  });
  return { rgba, url };
}

function frameCanvas(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas;
}

function frameRgba(canvas) {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  return { width: data.width, height: data.height, data: new Uint8Array(data.data.buffer) };
}

/// Hands an example of class `label` to the teacher (when teaching has started).
function giveExample(label, example) {
  const teacher = teach.teacher;
  return onGpu(() =>
    example.bytes
      ? teacher.addExample(label, example.bytes)
      : teacher.addExampleRgba(label, example.rgba.width, example.rgba.height, example.rgba.data),
  );
}

async function addExample(label, example) {
  const c = teach.classes[label];
  c.examples.push(example);
  const img = document.createElement('img');
  img.src = example.url;
  c.thumbs.append(img);
  c.count.textContent = `${c.examples.length} example${c.examples.length === 1 ? '' : 's'}`;
  if (teach.teacher) await giveExample(label, example);
}

function addClassRow(name) {
  const label = teach.classes.length;
  const row = document.createElement('div');
  row.className = 'class';
  row.dataset.label = label;
  const input = document.createElement('input');
  input.type = 'text';
  input.value = name;
  input.setAttribute('aria-label', `name of class ${label + 1}`);
  const count = document.createElement('span');
  count.className = 'hint';
  count.textContent = '0 examples';
  const snap = document.createElement('button');
  snap.textContent = '+ webcam frame';
  snap.className = 'snap';
  snap.disabled = !teachStream;
  const files = document.createElement('label');
  files.className = 'button';
  files.textContent = '+ images…';
  const picker = document.createElement('input');
  picker.type = 'file';
  picker.accept = 'image/*';
  picker.multiple = true;
  picker.hidden = true;
  files.append(picker);
  const thumbs = document.createElement('div');
  thumbs.className = 'thumbs';
  row.append(input, count, snap, files, thumbs);
  $('classes').append(row);
  teach.classes.push({ input, count, thumbs, snap, examples: [] });

  snap.addEventListener('click', () => {
    const video = $('teach-video');
    if (!video.videoWidth) return; // no frame yet
    const canvas = frameCanvas(video);
    canvas.toBlob((blob) => {
      const example = { rgba: frameRgba(canvas), url: URL.createObjectURL(blob) };
      addExample(label, example).catch((e) => say('teach-status', `${e.message ?? e}`, true));
    }, 'image/png');
  });
  picker.addEventListener('change', async () => {
    for (const file of picker.files) {
      try {
        await addExample(label, await exampleFromBlob(file));
      } catch (e) {
        say('teach-status', `${file.name}: ${e.message ?? e}`, true);
      }
    }
    picker.value = '';
  });
  $('class-add').disabled = teach.classes.length >= MAX_CLASSES || !!teach.teacher;
}

let teachStream = null;
$('teach-webcam-start').addEventListener('click', async () => {
  if (!navigator.mediaDevices?.getUserMedia) {
    say('teach-status', 'This browser offers no webcam access here (it needs https or localhost).', true);
    return;
  }
  try {
    teachStream = await navigator.mediaDevices.getUserMedia({ video: true });
  } catch (e) {
    say('teach-status', `No webcam: ${e.message || e.name}.`, true);
    return;
  }
  $('teach-video').srcObject = teachStream;
  $('teach-video').hidden = false;
  // Started by the page, not by autoplay, which Chromium pauses while the video is
  // scrolled out of view: frames would then come out black.
  await $('teach-video').play();
  $('teach-webcam-start').hidden = true;
  $('teach-webcam-stop').hidden = false;
  for (const c of teach.classes) c.snap.disabled = false;
  $('teach-live').disabled = !teach.teacher;
});
$('teach-webcam-stop').addEventListener('click', () => {
  teach.live = false;
  teachStream?.getTracks().forEach((t) => t.stop());
  teachStream = null;
  $('teach-video').hidden = true;
  $('teach-webcam-start').hidden = false;
  $('teach-webcam-stop').hidden = true;
  for (const c of teach.classes) c.snap.disabled = true;
  $('teach-live').disabled = true;
});

$('class-add').addEventListener('click', () => addClassRow(`class ${teach.classes.length + 1}`));

/// The teacher, made on the first press of Teach from the model loaded now, with every
/// example so far.
async function startTeacher() {
  if (!classifier) throw new Error('load a model first');
  const names = teach.classes.map((c) => c.input.value.trim());
  const batch = Number($('teach-batch').value);
  const lr = Number($('teach-lr').value);
  const whole = $('teach-whole').checked;
  say('teach-status', 'Reading the model back and compiling the training plan…');
  const source = classifier;
  teach.teacher = await onGpu(() => source.teach(names, whole, batch, lr, 0));
  demo.teach.note = teach.teacher.note;
  for (const [label, c] of teach.classes.entries()) {
    for (const example of c.examples) await giveExample(label, example);
  }
  for (const c of teach.classes) c.input.disabled = true;
  for (const id of ['class-add', 'teach-whole', 'teach-batch']) $(id).disabled = true;
  for (const id of ['teach-reset', 'teach-use', 'teach-save']) $(id).disabled = false;
  $('teach-live').disabled = !teachStream;
}

async function teachLoop() {
  const steps = demo.teach.steps;
  while (teach.running) {
    demo.teach.stepping = true;
    const r = await onGpu(() => teach.teacher.step()).finally(() => (demo.teach.stepping = false));
    steps.push({ step: r.step, epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, imagesPerS: r.images_per_s });
    r.free();
    const s = steps.at(-1);
    say('teach-status',
      `${demo.teach.note}. Step ${s.step} (${teach.teacher.stepsPerEpoch} per pass over the ` +
      `${teach.teacher.counts().reduce((a, n) => a + n, 0)} examples): loss ${s.loss.toFixed(3)}, ` +
      `batch accuracy ${(100 * s.accuracy).toFixed(1)}%, ${s.imagesPerS.toFixed(1)} images/s`);
    drawChart($('teach-chart'), steps);
    await new Promise((r) => setTimeout(r, 0)); // let the page handle events between steps
  }
}

$('teach-start').addEventListener('click', async () => {
  const button = $('teach-start');
  if (teach.running) {
    teach.running = false;
    button.textContent = 'Go on teaching';
    return;
  }
  try {
    if (!teach.teacher) {
      button.disabled = true;
      await startTeacher();
      button.disabled = false;
    }
    teach.teacher.setLearningRate(Number($('teach-lr').value));
    teach.running = true;
    button.textContent = 'Pause';
    await teachLoop();
  } catch (e) {
    teach.running = false;
    button.disabled = false;
    button.textContent = teach.teacher ? 'Go on teaching' : 'Teach';
    say('teach-status', `Teaching stopped: ${e.message ?? e}`, true);
  }
});

$('teach-lr').addEventListener('change', () => teach.teacher?.setLearningRate(Number($('teach-lr').value)));

$('teach-reset').addEventListener('click', async () => {
  teach.running = false;
  teach.live = false;
  await onGpu(() => teach.teacher?.free());
  teach.teacher = null;
  demo.teach.steps = [];
  drawChart($('teach-chart'), demo.teach.steps);
  for (const c of teach.classes) c.input.disabled = false;
  for (const id of ['teach-whole', 'teach-batch']) $(id).disabled = false;
  $('class-add').disabled = teach.classes.length >= MAX_CLASSES;
  for (const id of ['teach-reset', 'teach-use', 'teach-save', 'teach-live']) $(id).disabled = true;
  $('teach-start').textContent = 'Teach';
  say('teach-status', 'Start over: rename, add classes and examples, then press Teach.');
});

$('teach-use').addEventListener('click', async () => {
  try {
    const next = await onGpu(() => teach.teacher.classifier());
    setClassifier(next, `the network taught here (step ${demo.teach.steps.length})`);
  } catch (e) {
    say('teach-status', `No classifier from the taught network: ${e.message ?? e}`, true);
  }
});

$('teach-save').addEventListener('click', async () => {
  try {
    const bytes = await onGpu(() => teach.teacher.safetensors());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes]));
    const names = teach.classes.map((c) => c.input.value.trim()).join('-');
    a.download = `taught-${names}.safetensors`.replace(/[^\w.-]+/g, '_');
    a.click();
  } catch (e) {
    say('teach-status', `No weights file: ${e.message ?? e}`, true);
  }
});

/// Classifies webcam frames one after another with the taught classes and the protocol
/// chosen above, taking the newest weights every 20 steps of teaching.
async function liveLoop() {
  let live = null;
  let stepsSeen = -1;
  try {
    while (teach.live && teach.teacher && teachStream) {
      const steps = demo.teach.steps.length;
      if (!live || steps >= stepsSeen + 20) {
        live?.free();
        live = await onGpu(() => teach.teacher.classifier());
        live.quick = document.querySelector('#protocol input[value=quick]').checked;
        stepsSeen = steps;
      }
      const rgba = frameRgba(frameCanvas($('teach-video')));
      const start = performance.now();
      const r = await onGpu(() => live.classifyRgba(rgba.width, rgba.height, rgba.data, 1));
      const ms = performance.now() - start;
      const p = r.probabilities[r.classes[0]];
      demo.teach.live.push({ name: r.names[0], probability: p, ms });
      say('teach-live-result', `Webcam: ${r.names[0]} (${(100 * p).toFixed(1)}%), ${ms.toFixed(0)} ms a frame`);
      r.free();
      await new Promise((r) => setTimeout(r, 0));
    }
  } catch (e) {
    say('teach-live-result', `Live classification stopped: ${e.message ?? e}`, true);
  } finally {
    live?.free();
    teach.live = false;
    $('teach-live').textContent = 'Classify the webcam live';
  }
}

$('teach-live').addEventListener('click', () => {
  teach.live = !teach.live;
  $('teach-live').textContent = teach.live ? 'Stop the live classification' : 'Classify the webcam live';
  if (teach.live) liveLoop();
});

// --- Start ------------------------------------------------------------------------------

async function main() {
  await init();
  demo.samplePng = samplePng;
  showSamples();
  drawChart();
  addClassRow('class 1');
  addClassRow('class 2');
  drawChart($('teach-chart'), demo.teach.steps);
  if (!(await openGpu())) return;
  const url = new URLSearchParams(location.search).get('model');
  try {
    await (url ? loadUrl(url, url.split('/').pop() || url) : loadUrl('model.safetensors', 'model.safetensors (bundled)'));
    demo.status = 'ready';
  } catch (e) {
    demo.status = 'error';
    $('model-progress').hidden = true;
    say('model-status', `The model did not load: ${e.message ?? e}`, true);
  }
}

main().catch((e) => {
  demo.status = 'error';
  say('adapter', `The page failed to start: ${e.message ?? e}`, true);
});
