// Models: a weight file streamed into the engine from a URL (the bundled model,
// `?model=URL`) or from disk, then made the classifier in use.
import { ModelBytes } from './pkg/vgg_wgpu.js';
import { $, demo, engine, onGpu, say } from './page.js';
import { applyProtocol } from './classify.js';

/// Reads a weight file's stream to the end straight into the engine, which converts
/// each tensor as its bytes come (no copy of the whole file is held anywhere), reporting
/// bytes so far out of `total` (0 when unknown). Into one reused buffer where the stream
/// allows it (a byte stream's BYOB reader): with a new chunk for every read (garbage
/// until the collector runs), the tab peaked at 1.9–2.1 GB while VGG-16 loaded, against
/// 1.6 GB this way.
async function readModel(stream, total, name, progress) {
  const bytes = new ModelBytes(name);
  let byob = null;
  try {
    byob = stream.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream: chunks as they come
  }
  const reader = byob ?? stream.getReader();
  let buffer = new ArrayBuffer(1 << 20);
  try {
    for (;;) {
      const { done, value } = byob ? await byob.read(new Uint8Array(buffer)) : await reader.read();
      if (done) break;
      bytes.push(value);
      if (byob) buffer = value.buffer; // the read handed it back
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

// Where the model in use came from (a URL or a File), so that switching the weights'
// storage can read it again.
let source = null;

async function useWeights(bytes, name) {
  const f16 = $('f16-weights').checked;
  say('model-status', `Checking ${name}${f16 ? ' and rounding its weights to f16' : ''}…`);
  await new Promise((r) => setTimeout(r, 0)); // let the message paint
  const next = await onGpu(() => engine.gpu.loadModel(bytes, name, f16));
  setClassifier(next, f16 ? `${name}, weights as f16` : name);
}

async function loadFile(file) {
  const bytes = await readModel(file.stream(), file.size, file.name, showProgress(file.name));
  await useWeights(bytes, file.name);
  source = { file };
}

/// Makes `next` the classifier in use. A model loaded (not `taught` here) tells the
/// teach panel, whose examples' features came from the model before.
export function setClassifier(next, name, { taught = false } = {}) {
  engine.classifier?.free();
  engine.classifier = next;
  demo.model = engine.classifier.describe();
  demo.engine = engine.classifier.engine;
  $('model-progress').hidden = true;
  say('model-status', `${name}: ${demo.model}; classified by ${demo.engine}.`);
  applyProtocol();
  if (!taught) document.dispatchEvent(new Event('source-model'));
}

/// The weights at `url`: the bundled model, or `?model=URL`'s.
export async function loadUrl(url, name) {
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
  source = { url, name };
}

$('f16-weights').checked = new URLSearchParams(location.search).get('f16') === '1';
$('f16-weights').addEventListener('change', async () => {
  if (!source || !engine.gpu) return;
  const name = source.file?.name ?? source.name;
  try {
    await (source.file ? loadFile(source.file) : loadUrl(source.url, source.name));
  } catch (e) {
    $('model-progress').hidden = true;
    say('model-status', `${name}: ${e.message ?? e}`, true);
  }
});

$('weights-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file || !engine.gpu) return;
  try {
    await loadFile(file);
  } catch (e) {
    $('model-progress').hidden = true;
    say('model-status', `${file.name}: ${e.message ?? e}`, true);
  }
  event.target.value = '';
});
