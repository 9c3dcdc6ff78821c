// predict, evaluate, serve and report run one inference step: the same image gets the same numbers in each,
// softmax applied exactly once whether the head has it or not; a non-finite output is an error in each.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady, tf } from '../src/index';
import { NonFiniteOutputError } from '../src/inference/classify';
import { loadModelFolder, saveModelFolder, WEIGHTS_BIN } from '../src/io/model_folder';
import { googlenet } from '../src/models/googlenet';
import { evaluateFolder } from '../src/report/evaluate_folder';
import { createInferenceServer } from '../src/serve/server';
import { evaluateModelFolder } from '../src/training/evaluate';
import { predictImages } from '../src/training/predict';
import { removeDir, tempDir } from './data_fixtures';
import { colourFolder } from './training_fixtures';

const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');
const LABELS = ['blue', 'green', 'red'];
const PREPROCESSING = {
  inputShape: [32, 32, 3] as [number, number, number],
  mean: [0.4, 0.4, 0.4],
  std: [0.25, 0.25, 0.25],
  resize: 'fill' as const,
};

let dir: string;
let data: string;
let images: string[];

async function saveFolder(name: string, head: 'softmax' | 'linear'): Promise<string> {
  const out = path.join(dir, name);
  const model = googlenet({
    inputShape: [32, 32, 3],
    numClasses: 3,
    widthMultiplier: 0.1,
    classifierActivation: head,
  });
  // Logits far from 0, so that logits, probabilities and twice-softmaxed probabilities all differ clearly.
  const [kernel, bias] = model.getLayer('output').getWeights();
  const scaled = tf.mul(kernel, 20);
  model.getLayer('output').setWeights([scaled, bias]);
  scaled.dispose();
  await saveModelFolder(out, model, {
    model: 'googlenet',
    widthMultiplier: 0.1,
    labels: LABELS,
    preprocessing: PREPROCESSING,
  });
  model.dispose();
  return out;
}

before(async () => {
  await backendReady;
  dir = await tempDir();
  data = await colourFolder(path.join(dir, 'data'), 1, 0);
  images = LABELS.map((l) => path.join(data, l, '000.png'));
});

after(async () => {
  await removeDir(dir);
});

/** Probabilities by label from each of the four paths, for each of `images`. */
async function fourPaths(modelDir: string) {
  const { model, info } = await loadModelFolder(modelDir);
  const predicted = await predictImages(model, info, images, 3);
  const report = await evaluateFolder(model, info, data, { samplesPerClass: 1 });
  model.dispose();
  const evaluation = await evaluateModelFolder(modelDir, data);
  const service = await createInferenceServer({ modelDir, port: 0 });
  const url = await service.listen();
  const served: any[] = [];
  try {
    for (const file of images) {
      const res = await fetch(`${url}/v1/predict?top=3`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/png' },
        body: (await fs.readFile(file)) as BodyInit,
      });
      assert.equal(res.status, 200);
      served.push((await res.json()).predictions);
    }
  } finally {
    await service.close();
  }
  return { predicted, report, evaluation, served };
}

for (const head of ['linear', 'softmax'] as const) {
  test(`a ${head} head: predict, evaluate, serve and report give the same probabilities`, async () => {
    const modelDir = await saveFolder(`model-${head}`, head);
    const { predicted, report, evaluation, served } = await fourPaths(modelDir);
    const byLabel = (top: { label: string; probability: number }[]) =>
      Object.fromEntries(top.map((t) => [t.label, t.probability]));
    let loss = 0;
    images.forEach((file, i) => {
      const p = byLabel(predicted[i].top);
      const s = byLabel(served[i]);
      const sum = LABELS.reduce((a, l) => a + p[l], 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `${file}: predict's probabilities sum to ${sum}`);
      for (const l of LABELS)
        assert.ok(Math.abs(p[l] - s[l]) < 1e-5, `${file} ${l}: predict ${p[l]}, serve ${s[l]}`);
      const sample = report.samples.find((x) => x.file === path.relative(data, file))!;
      const best = predicted[i].top[0];
      assert.equal(sample.predicted, best.index, file);
      assert.ok(
        Math.abs(sample.probability - best.probability) < 1e-4,
        `${file}: report ${sample.probability}`,
      );
      loss -= Math.log(Math.min(Math.max(p[LABELS[i]], 1e-7), 1 - 1e-7));
    });
    loss /= images.length;
    assert.ok(
      Math.abs(evaluation.loss - loss) < 1e-4,
      `evaluate's loss ${evaluation.loss}, from predict ${loss}`,
    );
  });
}

test('a model whose output is NaN: predict, evaluate, serve and report refuse with an error naming it', async () => {
  const modelDir = await saveFolder('model-nan', 'softmax');
  // Bytes written by hand: the model writer itself refuses non-finite weights.
  const bytes = (await fs.stat(path.join(modelDir, WEIGHTS_BIN))).size;
  await fs.writeFile(
    path.join(modelDir, WEIGHTS_BIN),
    new Uint8Array(new Float32Array(bytes / 4).fill(Number.NaN).buffer),
  );
  const { model, info } = await loadModelFolder(modelDir);
  await assert.rejects(predictImages(model, info, images.slice(0, 1)), (e: Error) => {
    assert.ok(e instanceof NonFiniteOutputError);
    assert.match(e.message, new RegExp(`^${images[0]}: the model's output is not finite`));
    return true;
  });
  await assert.rejects(evaluateFolder(model, info, data), /output is not finite/);
  model.dispose();
  await assert.rejects(
    evaluateModelFolder(modelDir, data),
    /blue.000\.png: the model's output is not finite/,
  );
  const service = await createInferenceServer({ modelDir, port: 0 });
  const url = await service.listen();
  try {
    const res = await fetch(`${url}/v1/predict`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/png' },
      body: (await fs.readFile(images[0])) as BodyInit,
    });
    assert.equal(res.status, 500);
    assert.match((await res.json()).error.message, /output is not finite/);
  } finally {
    await service.close();
  }
  const env = { ...process.env, INCEPTION_BACKEND: 'cpu' };
  for (const args of [
    ['predict', '--model-dir', modelDir, images[0]],
    ['evaluate', '--model-dir', modelDir, '--data', data],
  ]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /output is not finite/);
  }
});
