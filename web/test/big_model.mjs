// The page with a big model (benchmark, not part of CI): opens the page on a weight file
// through `?model=`, then classifies one image with the quick protocol (twice: the first
// compiles the plans) and once with the paper's; prints the load time, each
// classification's time, the peak resident memory of the tab's renderer and of the GPU
// process while loading and during each classification, the engine's wasm memory after
// loading and after classifying, and the longest the page's main thread was busy during
// each classification.
//
//   node web/test/big_model.mjs MODEL.safetensors [IMAGE.png]
//
// Without IMAGE a 224×224 PNG the page draws is used. Needs web/build.sh first, like the
// e2e test. Environment: CHROMIUM (default /usr/bin/chromium), PROTOCOLS (default
// "quick,paper"), F16=1 (the weights stored as f16: the page's `?f16=1`), ENGINE=gpu or
// cpu (the page's `?engine=`; by default the CPU engine on a CPU adapter).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launch, serveWithModel } from './big_page.mjs';

const [modelPath, imagePath] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: node web/test/big_model.mjs MODEL.safetensors [IMAGE.png]');
  process.exit(2);
}
const protocols = (process.env.PROTOCOLS ?? 'quick,paper').split(',').filter(Boolean);
const f16 = process.env.F16 === '1' ? '&f16=1' : '';
const engine = process.env.ENGINE ? `&engine=${process.env.ENGINE}` : '';
const { server, url, modelName } = await serveWithModel(modelPath, `${f16}${engine}`);

// Peak resident memory (MiB) of Chromium's renderer and GPU processes, sampled: while
// loading (`peak`), then during each classification (`peak` reset before it).
const peak = { renderer: 0, gpu: 0 };
function sample() {
  const out = execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' });
  const sum = { renderer: 0, gpu: 0 };
  for (const line of out.split('\n')) {
    const m = line.trim().match(/^(\d+) (.*)$/);
    if (!m || !m[2].includes('chrom')) continue;
    if (m[2].includes('--type=renderer')) sum.renderer += Number(m[1]) / 1024;
    if (m[2].includes('--type=gpu-process')) sum.gpu += Number(m[1]) / 1024;
  }
  peak.renderer = Math.max(peak.renderer, sum.renderer);
  peak.gpu = Math.max(peak.gpu, sum.gpu);
}

const { context, close } = await launch();
try {
  const page = await context.newPage();
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  const sampler = setInterval(sample, 200);
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'no-webgpu', 'error'].includes(window.demo?.status));
  const loadSeconds = (Date.now() - start) / 1000;
  sample();
  clearInterval(sampler);
  console.log(`  ${await page.textContent('#adapter')}`);
  console.log(`  ${await page.textContent('#model-status')}`);
  if ((await page.evaluate(() => window.demo.status)) !== 'ready') throw new Error('the model did not load');
  console.log(
    `load: ${loadSeconds.toFixed(1)} s from opening the page; peak resident memory while loading: ` +
      `renderer ${peak.renderer.toFixed(0)} MiB, GPU process ${peak.gpu.toFixed(0)} MiB`,
  );
  const loadPeak = { ...peak };
  const wasmMib = (await page.evaluate(() => window.demo.wasmBytes())) / 1048576;
  console.log(`the engine's wasm memory after loading: ${wasmMib.toFixed(0)} MiB`);

  const image = imagePath
    ? { name: path.basename(imagePath), mimeType: 'image/png', buffer: fs.readFileSync(imagePath) }
    : {
        name: 'drawn-224.png',
        mimeType: 'image/png',
        buffer: Buffer.from(
          await page.evaluate(async () => {
            const canvas = new OffscreenCanvas(224, 224);
            const g = canvas.getContext('2d');
            g.fillStyle = '#6a9fd8';
            g.fillRect(0, 0, 224, 224);
            g.fillStyle = '#f2c230';
            g.beginPath();
            g.arc(120, 100, 50, 0, 2 * Math.PI);
            g.fill();
            const blob = await canvas.convertToBlob({ type: 'image/png' });
            return Array.from(new Uint8Array(await blob.arrayBuffer()));
          }),
        ),
      };
  const results = {};
  for (const protocol of protocols) {
    await page.check(`#protocol input[value=${protocol}]`);
    const runs = protocol === 'quick' ? 2 : 1;
    results[protocol] = [];
    for (let k = 0; k < runs; k++) {
      // The page stays responsive: the longest gap between ticks of a 50 ms timer on its
      // main thread while the classification runs.
      await page.evaluate(() => {
        window.demo.result = null;
        let last = performance.now();
        window.longestStallMs = 0;
        window.ticker = setInterval(() => {
          const now = performance.now();
          window.longestStallMs = Math.max(window.longestStallMs, now - last);
          last = now;
        }, 50);
      });
      peak.renderer = 0;
      peak.gpu = 0;
      const passSampler = setInterval(sample, 200);
      await page.setInputFiles('#image-file', image);
      await page.waitForFunction(() => window.demo.result !== null);
      clearInterval(passSampler);
      sample();
      const r = await page.evaluate(() => {
        clearInterval(window.ticker);
        return { ...window.demo.result, stallMs: window.longestStallMs };
      });
      r.peakRendererMib = peak.renderer;
      r.peakGpuMib = peak.gpu;
      results[protocol].push(r);
      console.log(
        `${protocol} protocol, run ${k + 1}: ${(r.ms / 1000).toFixed(1)} s in all, the network ` +
          `${r.evalSeconds.toFixed(1)} s for ${r.passes.toFixed(2)} passes ` +
          `(${(r.evalSeconds / r.passes).toFixed(2)} s a pass); top-1 ${r.names[0]}; ` +
          `longest gap between 50 ms timer ticks ${r.stallMs.toFixed(0)} ms; peak resident memory: ` +
          `renderer ${r.peakRendererMib.toFixed(0)} MiB, GPU process ${r.peakGpuMib.toFixed(0)} MiB`,
      );
    }
  }
  const wasmAfterMib = (await page.evaluate(() => window.demo.wasmBytes())) / 1048576;
  console.log(`the engine's wasm memory after the classifications: ${wasmAfterMib.toFixed(0)} MiB`);
  const summary = {
    model: modelName,
    load_seconds: loadSeconds,
    peak_renderer_mib: loadPeak.renderer,
    peak_gpu_process_mib: loadPeak.gpu,
    results: Object.fromEntries(
      Object.entries(results).map(([k, rs]) => [
        k,
        rs.map((r) => ({
          ms: r.ms,
          eval_seconds: r.evalSeconds,
          passes: r.passes,
          longest_stall_ms: r.stallMs,
          peak_renderer_mib: r.peakRendererMib,
          peak_gpu_process_mib: r.peakGpuMib,
        })),
      ]),
    ),
  };
  console.log(JSON.stringify(summary));
} finally {
  await close();
  server.close();
}
