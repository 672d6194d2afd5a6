// Teach it your own classes: examples from the webcam or files, each run through the
// loaded model's frozen convolutions once as it is added (twice: it and its mirror
// image), the head taught on what is kept in the tab, then classify with it (also live
// on the webcam) or download it.
import { $, demo, drawChart, engine, onGpu, say } from './page.js';
import { browserDecode, engineDecodes, frameCanvas, frameRgba, openWebcam } from './classify.js';
import { setClassifier } from './models.js';

const MAX_CLASSES = 10;
const teach = {
  classes: [], // { name input, count element, thumbs element, examples: [example] }
  teacher: null, // made with the first example, from the model loaded then
  started: false, // Teach was pressed (and not reset since)
  computing: 0, // examples whose features are being computed
  adding: new Set(), // additions of examples under way (files read, features computed)
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

/// The teacher of the model loaded now, made with the first example: each example's
/// views run through the model's frozen convolutions as soon as it is added. Called in
/// the GPU queue only.
function teacher() {
  if (!teach.teacher) {
    if (!engine.classifier) throw new Error('load a model first');
    teach.teacher = engine.classifier.teacher();
    teach.computing = 0;
  }
  return teach.teacher;
}

/// The examples' state for the page and the tests, read from teacher `t` in the GPU
/// queue (an engine object is never touched while one of its calls runs): views through
/// the frozen layers so far, and how long each example took.
function noteFeatures(t) {
  demo.teach.frontPasses = t.frontPasses;
  demo.teach.views = t.views;
  demo.teach.exampleMs = Array.from(t.exampleMs);
}

function showCount(c) {
  const n = c.examples.length;
  const waiting = c.examples.filter((e) => !e.ready).length;
  c.count.textContent = `${n} example${n === 1 ? '' : 's'}` + (waiting ? ` (${waiting} computing)` : '');
}

/// Hands an example of class `label` to the teacher, which computes its features; its
/// thumbnail is faint until then.
async function giveExample(label, example) {
  const c = teach.classes[label];
  example.ready = false;
  example.img.classList.add('computing');
  showCount(c);
  teach.computing += 1;
  let t;
  try {
    await onGpu(async () => {
      t = teacher();
      await (example.bytes
        ? t.addExample(label, example.bytes)
        : t.addExampleRgba(label, example.rgba.width, example.rgba.height, example.rgba.data));
      noteFeatures(t);
    });
  } catch (e) {
    // Not an example after all: it goes, with its thumbnail.
    c.examples.splice(c.examples.indexOf(example), 1);
    example.img.remove();
    showCount(c);
    throw e;
  } finally {
    teach.computing -= 1;
  }
  if (t !== teach.teacher) return; // the model changed meanwhile: its teacher was dropped
  example.ready = true;
  example.img.classList.remove('computing');
  showCount(c);
  demo.teach.timeline.push({ t: performance.now(), event: 'example ready', label });
  if (!teach.running) {
    say('teach-status', teach.computing
      ? `Computing the features of the examples: ${teach.computing} to go…`
      : `Every example's features are ready (${demo.teach.frontPasses} views through the frozen layers). Press Teach.`);
  }
}

/// Runs `work` (adding examples) and keeps it among the additions that Teach, pressed
/// meanwhile, waits for.
function adding(work) {
  const done = work().finally(() => teach.adding.delete(done));
  teach.adding.add(done);
  return done;
}

async function addExample(label, example) {
  const c = teach.classes[label];
  c.examples.push(example);
  const img = document.createElement('img');
  img.src = example.url;
  example.img = img;
  c.thumbs.append(img);
  demo.teach.timeline.push({ t: performance.now(), event: 'example added', label });
  await giveExample(label, example);
}

/// A model loaded since the examples were added: their features are recomputed with it.
document.addEventListener('source-model', () => {
  if (!teach.teacher) return;
  teach.running = false;
  teach.live = false;
  const old = teach.teacher;
  teach.teacher = null;
  teach.started = false;
  onGpu(() => old.free());
  resetControls();
  for (const [label, c] of teach.classes.entries()) {
    for (const example of c.examples) {
      giveExample(label, example).catch((e) => say('teach-status', `${e.message ?? e}`, true));
    }
  }
});

export function addClassRow(name) {
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
    const rgba = frameRgba(canvas);
    adding(async () => {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      await addExample(label, { rgba, url: URL.createObjectURL(blob) })
        .catch((e) => say('teach-status', `${e.message ?? e}`, true));
    });
  });
  picker.addEventListener('change', () => {
    const files = [...picker.files];
    picker.value = '';
    adding(async () => {
      for (const file of files) {
        try {
          await addExample(label, await exampleFromBlob(file));
        } catch (e) {
          say('teach-status', `${file.name}: ${e.message ?? e}`, true);
        }
      }
    });
  });
  $('class-add').disabled = teach.classes.length >= MAX_CLASSES || teach.started;
}

let teachStream = null;
$('teach-webcam-start').addEventListener('click', async () => {
  $('teach-video').hidden = false;
  teachStream = await openWebcam($('teach-video'), 'teach-status');
  if (!teachStream) {
    $('teach-video').hidden = true;
    return;
  }
  $('teach-webcam-start').hidden = true;
  $('teach-webcam-stop').hidden = false;
  for (const c of teach.classes) c.snap.disabled = false;
  $('teach-live').disabled = !teach.started;
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

/// Teaching starts on the examples' kept features, with the classes as named now.
async function startTeacher() {
  const names = teach.classes.map((c) => c.input.value.trim());
  const batch = Number($('teach-batch').value);
  const lr = Number($('teach-lr').value);
  const whole = $('teach-whole').checked;
  say('teach-status', teach.adding.size
    ? 'Teaching starts once the examples added are computed…'
    : 'Starting…');
  while (teach.adding.size) await Promise.allSettled([...teach.adding]);
  demo.teach.note = await onGpu(async () => {
    const t = teacher();
    await t.start(names, whole, batch, lr, 0);
    return t.note;
  });
  teach.started = true;
  demo.teach.timeline.push({ t: performance.now(), event: 'teaching started' });
  for (const c of teach.classes) c.input.disabled = true;
  for (const id of ['class-add', 'teach-whole', 'teach-batch']) $(id).disabled = true;
  for (const id of ['teach-reset', 'teach-use', 'teach-save']) $(id).disabled = false;
  $('teach-live').disabled = !teachStream;
}

async function teachLoop() {
  const steps = demo.teach.steps;
  while (teach.running) {
    demo.teach.stepping = true;
    const t = teach.teacher;
    const { r, perEpoch, examples } = await onGpu(async () => ({
      r: await t.step(),
      perEpoch: t.stepsPerEpoch,
      examples: t.counts(teach.classes.length).reduce((a, n) => a + n, 0),
    })).finally(() => (demo.teach.stepping = false));
    steps.push({ step: r.step, epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, imagesPerS: r.images_per_s, t: performance.now() });
    r.free();
    const s = steps.at(-1);
    say('teach-status',
      `${demo.teach.note}. Step ${s.step} (${perEpoch} per pass over the ` +
      `${examples} examples): loss ${s.loss.toFixed(3)}, ` +
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
    if (!teach.started) {
      button.disabled = true;
      await startTeacher();
      button.disabled = false;
    }
    const t = teach.teacher;
    await onGpu(() => t.setLearningRate(Number($('teach-lr').value)));
    teach.running = true;
    button.textContent = 'Pause';
    await teachLoop();
  } catch (e) {
    teach.running = false;
    button.disabled = false;
    button.textContent = teach.started ? 'Go on teaching' : 'Teach';
    say('teach-status', `Teaching stopped: ${e.message ?? e}`, true);
  }
});

$('teach-lr').addEventListener('change', () => {
  const t = teach.teacher;
  if (t) onGpu(() => t.setLearningRate(Number($('teach-lr').value)));
});

/// The controls as before Teach: classes can be renamed and added, the head chosen.
function resetControls() {
  demo.teach.steps = [];
  drawChart($('teach-chart'), demo.teach.steps);
  for (const c of teach.classes) c.input.disabled = false;
  for (const id of ['teach-whole', 'teach-batch']) $(id).disabled = false;
  $('class-add').disabled = teach.classes.length >= MAX_CLASSES;
  for (const id of ['teach-reset', 'teach-use', 'teach-save', 'teach-live']) $(id).disabled = true;
  $('teach-start').textContent = 'Teach';
}

$('teach-reset').addEventListener('click', async () => {
  teach.running = false;
  teach.live = false;
  const t = teach.teacher;
  await onGpu(() => t?.reset());
  teach.started = false;
  resetControls();
  say('teach-status', 'Start over: rename, add classes and examples, then press Teach. The examples\' features are kept.');
});

$('teach-use').addEventListener('click', async () => {
  try {
    const next = await onGpu(() => teach.teacher.classifier());
    setClassifier(next, `the network taught here (step ${demo.teach.steps.length})`, { taught: true });
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
