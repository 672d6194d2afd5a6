// Teaching a big model in the page (benchmark, not part of CI): opens the page on a
// weight file through `?model=`, names the classes, adds every teaching photo at once,
// waits for their features (the frozen layers run once per example and view as each is
// added; with EARLY=1 it does not wait), presses Teach and waits for a taught classifier: STEPS steps (default 100) or
// the mean loss of the last 5 steps under LOSS (default 0.1). Prints the timeline: each
// example's features ready, Teach, steps per second, the total from adding the first
// photo. With held-out photos, the taught classes then classify them (quick protocol)
// and the script counts those recognised.
//
//   node web/test/teach_big.mjs MODEL.safetensors [PHOTOS]
//
// PHOTOS holds teach/<class>/<image> and optionally held-out/<class>/<image> (PNG or
// JPEG; the classes in name order). Without it, two classes are drawn in the page, 4
// photos of 320×256 each and 4 held out. Needs web/build.sh first. Environment:
// CHROMIUM, ENGINE=gpu or cpu (the page's `?engine=`), WHOLE=1 (teach every FC layer
// instead of a new last layer), LR (the learning rate; the page's default otherwise),
// STEPS, LOSS, EARLY=1 (Teach pressed at once, while the examples are computed).
import fs from 'node:fs';
import path from 'node:path';
import { launch, serveWithModel } from './big_page.mjs';

const [modelPath, photosDir] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: node web/test/teach_big.mjs MODEL.safetensors [PHOTOS]');
  process.exit(2);
}
const maxSteps = Number(process.env.STEPS ?? 100);
const lossGoal = Number(process.env.LOSS ?? 0.1);
const engine = process.env.ENGINE ? `&engine=${process.env.ENGINE}` : '';
const { server, url } = await serveWithModel(modelPath, engine);

/// { class name: [{ name, mimeType, buffer }] } of PHOTOS/<part>/<class>/*.
function photosIn(part) {
  const dir = path.join(photosDir, part);
  if (!fs.existsSync(dir)) return null;
  const classes = fs.readdirSync(dir).filter((c) => fs.statSync(path.join(dir, c)).isDirectory()).sort();
  return Object.fromEntries(
    classes.map((c) => [
      c,
      fs.readdirSync(path.join(dir, c)).sort().map((f) => ({
        name: f,
        mimeType: /\.png$/i.test(f) ? 'image/png' : 'image/jpeg',
        buffer: fs.readFileSync(path.join(dir, c, f)),
      })),
    ]),
  );
}

/// Two classes drawn in the page: a sun in a sky, and stripes; `count` photos of each
/// from seed `first` on.
async function drawn(page, first, count) {
  const out = await page.evaluate(async ({ first, count }) => {
    const draw = async (kind, seed) => {
      let s = seed;
      const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280);
      const canvas = new OffscreenCanvas(320, 256);
      const g = canvas.getContext('2d');
      if (kind === 'sun') {
        g.fillStyle = `hsl(${200 + 20 * rnd()}, 70%, ${55 + 15 * rnd()}%)`;
        g.fillRect(0, 0, 320, 256);
        g.fillStyle = `hsl(${45 + 10 * rnd()}, 95%, 55%)`;
        g.beginPath();
        g.arc(80 + 160 * rnd(), 60 + 130 * rnd(), 30 + 40 * rnd(), 0, 2 * Math.PI);
        g.fill();
      } else {
        const period = 16 + Math.floor(24 * rnd());
        g.fillStyle = 'white';
        g.fillRect(0, 0, 320, 256);
        g.fillStyle = `hsl(${350 + 15 * rnd()}, 80%, 45%)`;
        for (let y = -period; y < 256; y += period) g.fillRect(0, y + period * rnd(), 320, period / 2);
      }
      const blob = await (canvas.convertToBlob({ type: 'image/png' }));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    };
    const out = {};
    for (const kind of ['stripes', 'sun']) {
      out[kind] = [];
      for (let i = 0; i < count; i++) out[kind].push(await draw(kind, first + i));
    }
    return out;
  }, { first, count });
  return Object.fromEntries(
    Object.entries(out).map(([c, pngs]) => [
      c,
      pngs.map((bytes, i) => ({ name: `${c}-${first + i}.png`, mimeType: 'image/png', buffer: Buffer.from(bytes) })),
    ]),
  );
}

const { context, close } = await launch();
try {
  const page = await context.newPage();
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  console.log(`  ${await page.textContent('#adapter')}`);
  console.log(`  ${await page.textContent('#model-status')}`);
  if ((await page.evaluate(() => window.demo.status)) !== 'ready') throw new Error('the model did not load');

  const teachPhotos = photosDir ? photosIn('teach') : await drawn(page, 1, 4);
  const heldOut = photosDir ? photosIn('held-out') : await drawn(page, 101, 4);
  const classes = Object.keys(teachPhotos);
  while ((await page.locator('#classes .class').count()) < classes.length) await page.click('#class-add');
  for (const [label, name] of classes.entries()) {
    await page.fill(`#classes .class[data-label="${label}"] input[type=text]`, name);
  }
  if (process.env.WHOLE === '1') await page.check('#teach-whole');
  if (process.env.LR) await page.fill('#teach-lr', process.env.LR);
  const total = classes.reduce((n, c) => n + teachPhotos[c].length, 0);

  // Every photo added at once, then Teach once their features are ready.
  const t0 = await page.evaluate(() => performance.now());
  for (const [label, name] of classes.entries()) {
    await page.setInputFiles(`#classes .class[data-label="${label}"] input[type=file]`, teachPhotos[name]);
  }
  if (process.env.EARLY !== '1') {
    await page.waitForFunction((n) => window.demo.teach.exampleMs.length === n, total);
  }
  await page.click('#teach-start');
  await page.waitForFunction(({ maxSteps, lossGoal }) => {
    const s = window.demo.teach.steps;
    const last = s.slice(-5);
    const stopped = document.querySelector('#teach-status').classList.contains('error');
    return stopped || s.length >= maxSteps || (last.length === 5 && last.reduce((a, x) => a + x.loss, 0) / 5 < lossGoal);
  }, { maxSteps, lossGoal });
  if (await page.evaluate(() => document.querySelector('#teach-status').classList.contains('error'))) {
    throw new Error(`teaching stopped: ${await page.textContent('#teach-status')}`);
  }
  await page.click('#teach-start'); // pause
  await page.waitForFunction(() => !window.demo.teach.stepping);
  const teach = await page.evaluate(() => window.demo.teach);
  const since = (t) => (t - t0) / 1000;
  const ready = teach.timeline.filter((e) => e.event === 'example ready').map((e) => since(e.t));
  const started = since(teach.timeline.find((e) => e.event === 'teaching started').t);
  const steps = teach.steps;
  const done = since(steps.at(-1).t);
  const stepsPerS = (steps.length - 1) / ((steps.at(-1).t - steps[0].t) / 1000);
  console.log(`${teach.note}`);
  console.log(
    `examples: ${total} (${classes.join(', ')}), ${teach.views} views each, ${teach.frontPasses} views through the frozen layers; ` +
      `each ready at ${ready.map((t) => t.toFixed(1)).join(', ')} s (${teach.exampleMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s each)`,
  );
  console.log(
    `teaching started at ${started.toFixed(1)} s; ${steps.length} steps, ${stepsPerS.toFixed(1)} steps/s; ` +
      `loss ${steps[0].loss.toFixed(3)} → mean of the last 5 ${(steps.slice(-5).reduce((a, s) => a + s.loss, 0) / 5).toFixed(3)}; ` +
      `taught classifier at ${done.toFixed(1)} s from adding the first photo`,
  );
  const wasmMib = (await page.evaluate(() => window.demo.wasmBytes())) / 1048576;
  console.log(`the engine's wasm memory after teaching: ${wasmMib.toFixed(0)} MiB`);
  const summary = {
    wasm_mib: wasmMib,
    examples: total,
    views: teach.views,
    front_passes: teach.frontPasses,
    examples_ready_s: ready,
    teaching_started_s: started,
    steps: steps.length,
    steps_per_s: stepsPerS,
    taught_s: done,
  };

  if (heldOut) {
    await page.click('#teach-use');
    await page.waitForFunction(() => document.querySelector('#model-status').textContent.includes('taught here'));
    await page.check('#protocol input[value=quick]');
    let right = 0;
    let all = 0;
    for (const name of classes) {
      for (const photo of heldOut[name] ?? []) {
        await page.evaluate(() => (window.demo.result = null));
        await page.setInputFiles('#image-file', photo);
        await page.waitForFunction(() => window.demo.result !== null);
        const top = await page.evaluate(() => window.demo.result.names[0]);
        right += top === name;
        all += 1;
      }
    }
    console.log(`held-out photos recognised by the taught classes: ${right} of ${all}`);
    summary.held_out_right = right;
    summary.held_out = all;
  }
  console.log(JSON.stringify(summary));
} finally {
  await close();
  server.close();
}
