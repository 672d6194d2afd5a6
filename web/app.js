// The page: opens WebGPU, loads the model, and starts the panels (models.js,
// classify.js, teach.js, train.js; what they share is in page.js) on the wasm package
// in pkg/, built by build.sh from the crate's src/web/. Nothing waits synchronously on
// the GPU.
import init, { Gpu, samplePng } from './pkg/vgg_wgpu.js';
import { $, demo, drawChart, engine, say } from './page.js';
import { loadUrl } from './models.js';
import { showSamples } from './classify.js';
import { addClassRow } from './teach.js';
import './train.js';

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
  // `?engine=gpu` or `?engine=cpu` chooses where models classify; by default the CPU
  // engine runs on adapters that are CPUs (SwiftShader), WebGPU elsewhere.
  const choice = new URLSearchParams(location.search).get('engine') ?? undefined;
  if (choice !== undefined && !['gpu', 'cpu'].includes(choice)) {
    demo.status = 'error';
    say('adapter', `?engine=${choice} is not known: give ?engine=gpu or ?engine=cpu, or leave it out.`, true);
    return false;
  }
  try {
    engine.gpu = await Gpu.open(choice);
  } catch (e) {
    noWebGpu(`WebGPU is present but gave no usable adapter: ${e.message ?? e}.`);
    return false;
  }
  say('adapter', `WebGPU adapter: ${engine.gpu.describe()}`);
  return true;
}

async function main() {
  const wasm = await init();
  demo.wasmBytes = () => wasm.memory.buffer.byteLength;
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
