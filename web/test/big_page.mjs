// What the big-model scripts (benchmarks, not part of CI) share: web/ served as the
// e2e test serves it plus one weight file at /big/<name>, and headless Chromium on its
// WebGPU adapter.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/// Serves web/ and `modelPath` at /big/<its name>; resolves to the page's URL with
/// `?model=` naming it and `query` after it.
export async function serveWithModel(modelPath, query = '') {
  const modelName = path.basename(modelPath);
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = pathname === `/big/${modelName}` ? modelPath : path.join(web, pathname);
    if (pathname.endsWith('/')) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) return res.writeHead(404).end();
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
    res.writeHead(200, {
      'content-type': types[path.extname(file)] ?? 'application/octet-stream',
      'content-length': fs.statSync(file).size,
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/?model=big/${encodeURIComponent(modelName)}${query}`;
  return { server, url, modelName };
}

/// Headless Chromium with WebGPU (CHROMIUM, default /usr/bin/chromium) in a fresh
/// profile; `close()` ends it and removes the profile.
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vgg-wgpu-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: false,
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking'],
  });
  context.setDefaultTimeout(3_600_000);
  const close = async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}
