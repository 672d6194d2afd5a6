// End-to-end test of the page (run by .ci/run after web/build.sh): Debian's Chromium,
// headless, on its SwiftShader WebGPU adapter, driven by playwright-core.
//
// 1. Serves web/ from a local static server and opens the page.
// 2. Classifies ten validation images of the built-in data set with the bundled model
//    (clicking the page's sample buttons) and checks that every class probability equals
//    `vgg-wgpu classify --json` on the same PNG files and weights (max |diff| <= 1e-4), and
//    that the top-1 classes agree; prints the time one classification takes. Then the
//    same with the weights stored as f16 (the model panel's checkbox) against
//    `vgg-wgpu classify --f16-weights`, and how far that storage moved the posteriors.
//    All of it twice: with the CPU engine (the page's default on SwiftShader, a CPU
//    adapter), then on a second page opened with `?engine=gpu`, by WebGPU.
// 3. Teaches the bundled model four new classes: three drawn by the test (uploaded as PNG
//    files) and one of Chromium's fake camera frames (the webcam button). Checks that the
//    loss falls, that held-out drawings and a new camera frame (live classification) are
//    recognised, with both protocols and progress per scale, and that the downloaded
//    model classifies natively as in the page.
// 4. Trains in the page, checks that the loss falls and that pausing stops the steps;
//    screenshot of the page. Then classifies with the trained network, downloads its
//    weights and checks that the native classify with that file gives the same
//    probabilities.
// 5. Opens the page with WebGPU hidden and checks the message and that samples still show;
//    opens it on ?model=URL (the taught model's file), and on a URL that is not there.
// The main page must log no errors. Screenshots and timings go to web/test-artifacts/.
//
// Environment: CHROMIUM (default /usr/bin/chromium), VGG_WGPU (a built vgg-wgpu binary;
// default `cargo run --release`), TRAIN_STEPS (default 40), TRAIN_IMAGES (default 64),
// TEACH_STEPS (default 150).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.dirname(web);
const artifacts = path.join(web, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const TOLERANCE = 1e-4;
const TRAIN_STEPS = Number(process.env.TRAIN_STEPS ?? 40);
const TRAIN_IMAGES = Number(process.env.TRAIN_IMAGES ?? 64);
const SAMPLES = 10;
const TEACH_STEPS = Number(process.env.TEACH_STEPS ?? 150);

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

// --- A static file server for web/ ---------------------------------------------------------
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};
const server = http.createServer((req, res) => {
  let file = path.join(web, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (!file.startsWith(web)) return res.writeHead(403).end();
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  fs.readFile(file, (err, data) => {
    if (err) return res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': data.length,
    });
    res.end(data);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

// --- The browser --------------------------------------------------------------------------
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vgg-wgpu-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: false, // the flags below choose the new headless mode themselves
  args: [
    '--headless=new',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    // A fake camera (a moving test pattern) that needs no permission prompt.
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ],
  viewport: { width: 1000, height: 1300 },
});
context.setDefaultTimeout(600_000);

try {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => {
    console.log(`  [page] ${m.text()}`);
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => {
    console.log(`  [page error] ${e.message}`);
    errors.push(e.message);
  });
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  console.log(`  ${await page.textContent('#adapter')}`);
  console.log(`  ${await page.textContent('#model-status')}`);
  check((await page.evaluate(() => window.demo.status)) === 'ready', 'the page opened WebGPU and loaded the bundled model');

  // --- Classification vs the native CLI ---
  const files = [];
  for (let i = 0; i < SAMPLES; i++) {
    const png = await page.evaluate((i) => Array.from(window.demo.samplePng(i, 96)), i);
    const file = path.join(artifacts, `sample-${i}.png`);
    fs.writeFileSync(file, Buffer.from(png));
    files.push(file);
  }
  const classes = 10; // the built-in data set's; val image i has label i % 10
  const nativeClassify = (weights, images, options = [], top = classes) => {
    const classify = ['classify', '--json', '--top', String(top), '--weights', weights, ...options, ...images];
    const [command, args] = process.env.VGG_WGPU
      ? [process.env.VGG_WGPU, classify]
      : ['cargo', ['run', '--release', '--locked', '-q', '--', ...classify]];
    return JSON.parse(
      execFileSync(command, args, {
        cwd: root,
        env: { XDG_RUNTIME_DIR: '/tmp', ...process.env },
        encoding: 'utf8',
      }),
    );
  };
  const native = nativeClassify(path.join(web, 'model.safetensors'), files);
  const nativeF16 = nativeClassify(path.join(web, 'model.safetensors'), files, ['--f16-weights']);
  const classifySampleOn = async (on, i) => {
    await on.evaluate(() => (window.demo.result = null));
    await on.click(`#samples button[data-index="${i}"]`);
    await on.waitForFunction(() => window.demo.result !== null);
    return on.evaluate(() => window.demo.result);
  };
  const classifySample = (i) => classifySampleOn(page, i);
  const meanLoss = (s) => s.reduce((a, t) => a + t.loss, 0) / s.length;
  const maxAbsDiff = (got, want) =>
    Math.max(...want.map(({ class: c, probability }) => Math.abs(got.probabilities[c] - probability)));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bundled = 'model.safetensors (bundled)';
  const loadedOn = (on, name) =>
    on.waitForFunction((name) => document.querySelector('#model-status').textContent.startsWith(`${name}: `), name);

  // The ten samples on `on` (a page whose classifier runs on `engine`) against the native
  // CLI, with f32 weights then f16 (the checkbox reloads the model); returns the timings.
  const checkClassification = async (on, engine) => {
    const used = (await on.evaluate(() => window.demo.engine)) ?? 'no model';
    check(used.includes(engine), `${engine} classifies (the page says: ${used})`);
    let maxDiff = 0;
    let agree = 0;
    let correct = 0;
    const times = [];
    for (let i = 0; i < SAMPLES; i++) {
      const got = await classifySampleOn(on, i);
      times.push(got);
      const want = native[i].top;
      maxDiff = Math.max(maxDiff, maxAbsDiff(got, want));
      agree += got.classes[0] === want[0].class;
      correct += got.classes[0] === i % classes;
      console.log(
        `  sample ${i}: page top-1 ${got.names[0]} ${(100 * got.probabilities[got.classes[0]]).toFixed(2)}%, ` +
          `native ${want[0].name} ${(100 * want[0].probability).toFixed(2)}%; ${got.ms.toFixed(0)} ms`,
      );
    }
    check(agree === SAMPLES, `${engine}: top-1 class equals the native classify's on ${agree}/${SAMPLES} images`);
    check(correct >= 8, `${engine}: top-1 is the true class on ${correct}/${SAMPLES} validation images`);
    check(
      maxDiff <= TOLERANCE,
      `${engine}: max |p_page - p_native| over all classes = ${maxDiff.toExponential(2)} (<= ${TOLERANCE})`,
    );

    // Warm timing: the plans exist after the first image; classify one image again.
    const warm = [];
    for (let k = 0; k < 3; k++) warm.push(await classifySampleOn(on, 3));
    console.log(
      `  ${engine}, classification time: first image ${times[0].ms.toFixed(0)} ms (on the GPU: compiles the dense plans); ` +
        `warm ${warm.map((r) => r.ms.toFixed(0)).join(', ')} ms in all, ` +
        `network ${warm.map((r) => (1000 * r.evalSeconds).toFixed(0)).join(', ')} ms`,
    );

    await on.check('#f16-weights');
    await loadedOn(on, `${bundled}, weights as f16`);
    let f16Diff = 0;
    let f16Shift = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const got = await classifySampleOn(on, i);
      f16Diff = Math.max(f16Diff, maxAbsDiff(got, nativeF16[i].top));
      f16Shift = Math.max(f16Shift, maxAbsDiff(got, native[i].top));
    }
    check(
      f16Diff <= TOLERANCE,
      `${engine}, f16 weights: max |p_page - p_native(--f16-weights)| = ${f16Diff.toExponential(2)} (<= ${TOLERANCE}); ` +
        `f16 storage moved the posteriors by at most ${f16Shift.toExponential(2)}`,
    );
    await on.uncheck('#f16-weights');
    await loadedOn(on, bundled);
    return {
      max_abs_diff: maxDiff,
      first_ms: times[0].ms,
      warm_ms: warm.map((r) => r.ms),
      median_warm_ms: median(warm.map((r) => r.ms)),
    };
  };

  // SwiftShader is a CPU: the page classifies with its CPU engine. `?engine=gpu` keeps
  // the WebGPU path (what GPUs run) under test on the same adapter.
  const timing = { cpu_engine: await checkClassification(page, 'the CPU engine') };
  const gpuPage = await context.newPage();
  gpuPage.on('pageerror', (e) => errors.push(e.message));
  await gpuPage.goto(`${url}?engine=gpu`);
  await gpuPage.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  const gpuStatus = await gpuPage.evaluate(() => window.demo.status);
  check(gpuStatus === 'ready', `the page opened with ?engine=gpu (status: ${gpuStatus})`);
  if (gpuStatus === 'ready') timing.webgpu = await checkClassification(gpuPage, 'WebGPU');
  await gpuPage.close();
  fs.writeFileSync(path.join(artifacts, 'timing.json'), JSON.stringify(timing, null, 1));

  // --- The webcam: Chromium's fake camera ---
  await page.evaluate(() => (window.demo.result = null));
  await page.click('#webcam-start');
  await page.waitForFunction(() => document.querySelector('#webcam-video').videoWidth > 0);
  await page.click('#webcam-snap');
  await page.waitForFunction(() => window.demo.result !== null);
  const frame = await page.evaluate(() => window.demo.result);
  const total = frame.probabilities.reduce((a, p) => a + p, 0);
  check(
    frame.source === 'the webcam frame' && Math.abs(total - 1) < 1e-3,
    `a webcam frame (Chromium's fake camera) is classified: top-1 ${frame.names[0]}, probabilities sum to ${total.toFixed(4)}`,
  );
  await page.click('#webcam-stop');


  // --- Teach it your own classes ---
  // Three classes the test draws (random sizes, places and shades; held-out drawings
  // come from other seeds) and one of the fake camera's frames.
  const DRAWN = ['sun', 'stripes', 'confetti'];
  const drawings = await page.evaluate(async ({ kinds, seeds }) => {
    const draw = async (kind, seed) => {
      let s = seed;
      const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280);
      rnd();
      const w = 64 + Math.floor(64 * rnd());
      const h = 64 + Math.floor(64 * rnd());
      const canvas = new OffscreenCanvas(w, h);
      const g = canvas.getContext('2d');
      if (kind === 'sun') {
        g.fillStyle = `hsl(${200 + 20 * rnd()}, 70%, ${55 + 15 * rnd()}%)`;
        g.fillRect(0, 0, w, h);
        g.fillStyle = `hsl(${45 + 10 * rnd()}, 95%, 55%)`;
        g.beginPath();
        g.arc(w * (0.3 + 0.4 * rnd()), h * (0.3 + 0.4 * rnd()), Math.min(w, h) * (0.15 + 0.15 * rnd()), 0, 2 * Math.PI);
        g.fill();
      } else if (kind === 'stripes') {
        const period = 8 + Math.floor(12 * rnd());
        const offset = period * rnd();
        g.fillStyle = 'white';
        g.fillRect(0, 0, w, h);
        g.fillStyle = `hsl(${350 + 15 * rnd()}, 80%, 45%)`;
        for (let y = -period; y < h; y += period) g.fillRect(0, y + offset, w, period / 2);
      } else {
        g.fillStyle = 'white';
        g.fillRect(0, 0, w, h);
        const pieces = 30 + Math.floor(30 * rnd());
        for (let i = 0; i < pieces; i++) {
          g.fillStyle = `hsl(${360 * rnd()}, 85%, 50%)`;
          const side = 3 + 4 * rnd();
          g.fillRect(w * rnd(), h * rnd(), side, side);
        }
      }
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    };
    const out = {};
    for (const kind of kinds) out[kind] = await Promise.all(seeds.map((seed) => draw(kind, seed)));
    return out;
  }, { kinds: DRAWN, seeds: [1, 2, 3, 4, 5, 6, 7, 8, 101, 102, 103] });
  await page.click('#class-add');
  await page.click('#class-add');
  const taughtNames = [...DRAWN, 'camera'];
  for (const [label, name] of taughtNames.entries()) {
    await page.fill(`#classes .class[data-label="${label}"] input[type=text]`, name);
  }
  const heldOut = [];
  for (const [label, name] of DRAWN.entries()) {
    const pngs = drawings[name].map((bytes, i) => ({ name: `${name}-${i}.png`, mimeType: 'image/png', buffer: Buffer.from(bytes) }));
    await page.setInputFiles(`#classes .class[data-label="${label}"] input[type=file]`, pngs.slice(0, 8));
    for (const png of pngs.slice(8)) {
      const file = path.join(artifacts, `held-out-${png.name}`);
      fs.writeFileSync(file, png.buffer);
      heldOut.push({ label, name, file, png });
    }
  }
  await page.click('#teach-webcam-start');
  await page.waitForFunction(() => document.querySelector('#teach-video').videoWidth > 0);
  for (let k = 0; k < 12; k++) {
    await page.click('#classes .class[data-label="3"] .snap');
    await page.waitForTimeout(250); // the fake camera's pattern moves between frames
  }
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#classes .class .hint')].map((e) => e.textContent).join() ===
      '8 examples,8 examples,8 examples,12 examples');
  console.log('  four classes named and given examples: 3 × 8 drawn PNG files, 12 fake-camera frames');

  await page.check('#teach-whole'); // the bundled 32×32 net's features need more than a new last layer
  await page.click('#teach-start');
  await page.waitForFunction((n) => window.demo.teach.steps.length >= n, TEACH_STEPS);
  await page.click('#teach-start'); // pause
  await page.waitForFunction(() => !window.demo.teach.stepping);
  const teachSteps = await page.evaluate(() => window.demo.teach.steps);
  const teachNote = await page.evaluate(() => window.demo.teach.note);
  const firstTeach = teachSteps[0].loss;
  const lastTeach = meanLoss(teachSteps.slice(-20));
  console.log(
    `  teaching: ${teachNote}; ${teachSteps.length} steps, ${(teachSteps.slice(-10).reduce((a, s) => a + s.imagesPerS, 0) / 10).toFixed(1)} images/s; ` +
      `loss every 10 steps: ${teachSteps.filter((s) => s.step % 10 === 1).map((s) => s.loss.toFixed(2)).join(' ')}`,
  );
  const features = await page.evaluate(() => ({ passes: window.demo.teach.frontPasses, views: window.demo.teach.views }));
  check(
    features.views >= 1 && features.passes === (3 * 8 + 12) * features.views,
    `the frozen layers ran once per example and view, however many steps: ${features.passes} views of 36 examples ` +
      `(${features.views} each) after ${teachSteps.length} steps`,
  );
  check(teachNote.includes('new: classifier.6 (10 → 4 classes)'), `the teacher starts from the bundled model with a new last layer (${teachNote}); its FC layers train`);
  check(
    Math.abs(firstTeach - Math.log(4)) < 1e-3 && lastTeach < 0.5 * firstTeach,
    `the teaching loss falls from ln 4 (the new layer starts at zero): step 1 ${firstTeach.toFixed(3)}, mean of the last 20 steps ${lastTeach.toFixed(3)}`,
  );

  await page.click('#teach-use');
  await page.waitForFunction(() => document.querySelector('#model-status').textContent.includes('taught here'));
  const classifyFile = async (png) => {
    await page.evaluate(() => (window.demo.result = null));
    await page.setInputFiles('#image-file', png);
    await page.waitForFunction(() => window.demo.result !== null);
    return page.evaluate(() => ({ ...window.demo.result, progress: window.demo.progress }));
  };
  const taughtResults = [];
  const recognised = DRAWN.map(() => 0);
  for (const h of heldOut) {
    const r = await classifyFile(h.png);
    taughtResults.push(r);
    recognised[h.label] += r.names[0] === h.name;
  }
  check(
    recognised.every((n) => n >= 2) && recognised.reduce((a, n) => a + n, 0) >= 8,
    `held-out drawings recognised by the taught classes: ${DRAWN.map((n, i) => `${n} ${recognised[i]}/3`).join(', ')}`,
  );
  const steps3 = taughtResults.at(-1).progress;
  check(steps3.length === 3 && steps3.at(-1)[0] === 3 && steps3.at(-1)[1] === 3,
    `the paper's protocol reports progress per scale: ${JSON.stringify(steps3)}`);
  const [taughtDownload] = await Promise.all([page.waitForEvent('download'), page.click('#teach-save')]);
  const taughtFile = path.join(artifacts, 'taught.safetensors');
  await taughtDownload.saveAs(taughtFile);
  const taughtNative = nativeClassify(taughtFile, heldOut.map((h) => h.file), [], 4);
  const taughtDiff = Math.max(...taughtNative.map((n, i) => maxAbsDiff(taughtResults[i], n.top)));
  const nativeNames = taughtNative[0].top.map((t) => t.name).sort();
  check(
    taughtDiff <= TOLERANCE && JSON.stringify(nativeNames) === JSON.stringify([...taughtNames].sort()),
    `the downloaded taught model classifies natively as in the page, with its class names ` +
      `(max |diff| ${taughtDiff.toExponential(2)} over ${heldOut.length} images)`,
  );

  // The quick protocol: one pass at the smallest scale, no flip (classify --scales Q --no-flip).
  await page.check('#protocol input[value=quick]');
  const quick = await classifyFile(heldOut[0].png);
  const q = Number((await page.textContent('#quick-text')).match(/Q = (\d+)/)[1]);
  const quickNative = nativeClassify(taughtFile, [heldOut[0].file], ['--scales', String(q), '--no-flip'], 4)[0].top;
  const quickDiff = maxAbsDiff(quick, quickNative);
  check(quick.progress.length === 1 && quickDiff <= TOLERANCE,
    `the quick protocol (one pass at Q = ${q}, ${quick.passes.toFixed(2)} passes of the input size) ` +
      `equals classify --scales ${q} --no-flip (max |diff| ${quickDiff.toExponential(2)})`);
  await page.check('#protocol input[value=paper]');

  // Live: new camera frames, one after another, classified with the taught classes.
  await page.click('#teach-live');
  await page.waitForFunction(() => window.demo.teach.live.length >= 5);
  await page.click('#teach-live');
  const live = await page.evaluate(() => window.demo.teach.live);
  check(live.slice(0, 5).filter((r) => r.name === 'camera').length >= 3,
    `live webcam frames are recognised as 'camera' (3 of the first 5 at least): ${live.map((r) => `${r.name} ${(100 * r.probability).toFixed(1)}% in ${r.ms.toFixed(0)} ms`).join('; ')}`);
  await page.click('#teach-webcam-stop');
  await page.screenshot({ path: path.join(artifacts, 'teach.png'), fullPage: true });

  // --- Training ---
  await page.fill('#train-images', String(TRAIN_IMAGES));
  await page.click('#train-start');
  await page.waitForFunction((n) => window.demo.steps.length >= n, TRAIN_STEPS);
  await page.click('#train-start'); // pause
  await page.waitForFunction(() => !window.demo.stepping); // a step in flight finishes
  const paused = await page.evaluate(() => window.demo.steps.length);
  await page.waitForTimeout(3000);
  const steps = await page.evaluate(() => window.demo.steps);
  check(steps.length === paused, `pause stops training (${paused} steps, then ${steps.length} after 3 s)`);
  const first = meanLoss(steps.slice(0, 10));
  const last = meanLoss(steps.slice(-10));
  const rate = steps.slice(-10).reduce((a, t) => a + t.imagesPerS, 0) / 10;
  console.log(
    `  training: ${steps.length} steps of ${await page.inputValue('#batch')} images ` +
      `(${TRAIN_IMAGES} training images), ${rate.toFixed(0)} images/s over the last 10; ` +
      `loss of step 1 ${steps[0].loss.toFixed(3)}, of step ${steps.length} ${steps.at(-1).loss.toFixed(3)}`,
  );
  check(last < first - 0.05, `the loss falls: mean of the first 10 steps ${first.toFixed(3)}, of the last 10 ${last.toFixed(3)}`);
  await page.screenshot({ path: path.join(artifacts, 'page.png'), fullPage: true });
  fs.writeFileSync(
    path.join(artifacts, 'training.json'),
    JSON.stringify({ steps, mean_loss_first_10: first, mean_loss_last_10: last }, null, 1),
  );

  // The trained network: classify in the page, download its weights, classify natively.
  await page.click('#train-use');
  await page.waitForFunction(() => document.querySelector('#model-status').textContent.includes('trained here'));
  const trainedResult = await classifySample(0);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#train-save')]);
  const trainedFile = path.join(artifacts, 'trained.safetensors');
  await download.saveAs(trainedFile);
  const trainedNative = nativeClassify(trainedFile, [files[0]])[0].top;
  const trainedDiff = maxAbsDiff(trainedResult, trainedNative);
  check(
    trainedResult.classes[0] === trainedNative[0].class && trainedDiff <= TOLERANCE,
    `the trained network's downloaded weights classify natively as in the page ` +
      `(top-1 ${trainedNative[0].name}, max |diff| ${trainedDiff.toExponential(2)})`,
  );
  check(errors.length === 0, `the page logged no errors or warnings (${errors.length})`);

  // --- Without WebGPU ---
  const bare = await context.newPage();
  await bare.addInitScript(() => delete Navigator.prototype.gpu);
  await bare.goto(url);
  await bare.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  const banner = await bare.textContent('#no-webgpu');
  const samples = await bare.locator('#samples img').count();
  check(
    (await bare.evaluate(() => window.demo.status)) === 'no-webgpu' &&
      (await bare.isVisible('#no-webgpu')) && banner.includes('--enable-unsafe-webgpu') && samples === 10,
    `without WebGPU the page says so and stays usable (${samples} samples shown)`,
  );
  await bare.screenshot({ path: path.join(artifacts, 'no-webgpu.png') });

  // --- ?model=URL ---
  const byUrl = await context.newPage();
  await byUrl.goto(`${url}?model=test-artifacts/taught.safetensors`);
  await byUrl.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  const byUrlModel = await byUrl.evaluate(() => window.demo.model);
  check(byUrlModel?.includes('4 classes'), `?model=URL opens that model instead of the bundled one (${byUrlModel})`);
  await byUrl.goto(`${url}?model=missing.safetensors`);
  await byUrl.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  const missing = await byUrl.textContent('#model-status');
  check(missing.includes('missing.safetensors: HTTP 404'), `a model URL that is not there is named with its HTTP status: "${missing}"`);
} finally {
  await context.close();
  server.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

console.log(failures ? `\n${failures} check(s) failed` : '\nweb e2e passed');
process.exit(failures ? 1 : 0);
