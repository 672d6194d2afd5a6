// Train: the CLI's default network on the built-in data set, one step per call, in
// the tab.
import { $, demo, drawChart, engine, onGpu, say } from './page.js';
import { setClassifier } from './models.js';

let trainer = null;
let training = false;

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
      trainer = await onGpu(() => engine.gpu.trainer(images, batch, Number($('lr').value), 0));
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
