// Classify: an image from a file, the clipboard, a drop, the webcam or the samples,
// with the quick protocol or the paper's; the result with its score map.
import { builtinClasses, samplePng } from './pkg/vgg_wgpu.js';
import { $, demo, engine, onGpu, say } from './page.js';

let chosenProtocol = null; // 'quick' | 'paper' once the user picks one
let secondsPerPass = null; // measured by the last classification

/// Each protocol's work for a square image of the model's input size, and its time at
/// the speed the last classification measured.
function showProtocols() {
  for (const quick of [true, false]) {
    const key = quick ? 'quick' : 'paper';
    const side = engine.classifier.inputSize;
    const passes = engine.classifier.passes(side, side, quick);
    const time = secondsPerPass ? `, about ${(passes * secondsPerPass).toFixed(1)} s here` : '';
    $(`${key}-text`).textContent = engine.classifier.protocolText(quick);
    $(`${key}-cost`).textContent =
      `(${passes.toFixed(1)} passes of a ${side}×${side} image${time})`;
  }
}

/// Sets the protocol of a newly loaded classifier: the user's choice, else the paper's
/// (VGG-16's 7.92 passes take about 7 s on a CPU adapter with the CPU engine; 40 s with
/// `?engine=gpu` there).
export function applyProtocol() {
  const quick = chosenProtocol === 'quick';
  document.querySelector(`#protocol input[value=${quick ? 'quick' : 'paper'}]`).checked = true;
  engine.classifier.quick = quick;
  showProtocols();
}

for (const input of document.querySelectorAll('#protocol input')) {
  input.addEventListener('change', () => {
    chosenProtocol = input.value;
    // Through the queue: a classification in progress holds the classifier.
    onGpu(() => {
      if (engine.classifier) engine.classifier.quick = input.value === 'quick';
    });
  });
}

// JPEG and PNG go to the engine, which decodes them exactly as `vgg-wgpu classify` does;
// other formats (WebP, GIF, ...) are decoded by the browser.
export function engineDecodes(bytes) {
  const starts = (...magic) => magic.every((b, i) => bytes[i] === b);
  return starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47);
}

async function classifyBlob(blob, source) {
  if (!engine.gpu) {
    say('classify-status', 'Classifying needs WebGPU (see above).', true);
    return;
  }
  if (!engine.classifier) {
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
      r = await onGpu(() => engine.classifier.classify(bytes, 5, progress));
    } else {
      const rgba = await browserDecode(blob).catch(() => {
        throw new Error('not an image this browser can decode');
      });
      r = await onGpu(() => engine.classifier.classifyRgba(rgba.width, rgba.height, rgba.data, 5, progress));
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

export async function browserDecode(blob) {
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
    `${r.passes.toFixed(1)} passes of a ${engine.classifier.inputSize}×${engine.classifier.inputSize} image).`);
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

/// The webcam's stream shown in `video`, or null with the reason said in `statusId`.
export async function openWebcam(video, statusId) {
  if (!navigator.mediaDevices?.getUserMedia) {
    say(statusId, 'This browser offers no webcam access here (it needs https or localhost).', true);
    return null;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true });
  } catch (e) {
    say(statusId, `No webcam: ${e.message || e.name}.`, true);
    return null;
  }
  video.srcObject = stream;
  // Started by the page, not by autoplay, which Chromium pauses while the video is
  // scrolled out of view: frames would then come out black.
  await video.play();
  say(statusId, '');
  return stream;
}

/// The video's current frame on a canvas of its size.
export function frameCanvas(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas;
}

/// A canvas's pixels as the engine takes them: (height, width, 4) RGBA bytes.
export function frameRgba(canvas) {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  return { width: data.width, height: data.height, data: new Uint8Array(data.data.buffer) };
}

let webcamStream = null;
$('webcam-start').addEventListener('click', async () => {
  $('webcam').hidden = false;
  webcamStream = await openWebcam($('webcam-video'), 'classify-status');
  $('webcam').hidden = !webcamStream;
});
$('webcam-snap').addEventListener('click', () => {
  const video = $('webcam-video');
  if (!video.videoWidth) return; // no frame yet
  frameCanvas(video).toBlob((blob) => blob && classifyBlob(blob, 'the webcam frame'), 'image/png');
});
$('webcam-stop').addEventListener('click', () => {
  webcamStream?.getTracks().forEach((t) => t.stop());
  webcamStream = null;
  $('webcam').hidden = true;
});

export function showSamples() {
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
