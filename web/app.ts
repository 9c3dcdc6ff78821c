import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import './custom_layers';
import { imageToInput, type Preprocessing } from './preprocess';

interface ModelDescription {
  name: string;
  model: string;
  labels: string[];
  inputShape: [number, number, number];
  preprocessing: Preprocessing;
  parameters: number;
  tfjsModel: string;
}

interface Prediction {
  label: string;
  index: number;
  probability: number;
}

const TOP = 5;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** WebGL first, then WASM, then plain JS: the first that initialises wins (`?backend=wasm` tries that first). */
async function pickBackend(): Promise<string> {
  setWasmPaths('/');
  const order = ['webgl', 'wasm', 'cpu'];
  const asked = new URLSearchParams(location.search).get('backend');
  if (asked && order.includes(asked)) order.unshift(...order.splice(order.indexOf(asked), 1));
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error('no tfjs backend could start');
}

function renderBars(el: HTMLElement, predictions: Prediction[], note: string): void {
  el.replaceChildren();
  for (const p of predictions) {
    const row = document.createElement('div');
    row.className = 'bar-row';
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = p.label;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${(p.probability * 100).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = `${(p.probability * 100).toFixed(1)}%`;
    row.append(label, bar, value);
    el.append(row);
  }
  const small = document.createElement('p');
  small.className = 'note';
  small.textContent = note;
  el.append(small);
  el.dataset.top = predictions[0]?.label ?? '';
  el.dataset.probabilities = JSON.stringify(predictions.map((p) => [p.label, p.probability]));
}

function showError(el: HTMLElement, message: string): void {
  el.replaceChildren();
  const p = document.createElement('p');
  p.className = 'error';
  p.textContent = message;
  el.append(p);
  el.dataset.error = message;
}

async function main(): Promise<void> {
  const status = $('status');
  const info = (await (await fetch('/v1/model')).json()) as ModelDescription;
  $('model-name').textContent = `${info.name} (${info.model}, width ×${(info as any).widthMultiplier ?? 1})`;
  $('model-input').textContent = info.inputShape.join(' × ');
  $('model-params').textContent = info.parameters.toLocaleString('en-US');
  $('model-classes').textContent = info.labels.join(', ');
  const backend = await pickBackend();
  $('backend').textContent = backend;
  status.textContent = 'loading the model in the browser…';
  const model = await tf.loadLayersModel(info.tfjsModel);
  const last = model.layers[model.layers.length - 1].getConfig() as { activation?: string };
  const needsSoftmax = last.activation !== 'softmax';
  status.textContent = `ready: model loaded in the browser (${backend})`;
  document.body.dataset.ready = 'true';

  async function classifyInBrowser(file: Blob): Promise<void> {
    const out = $('browser-result');
    const t0 = performance.now();
    const x = await imageToInput(file, info.preprocessing);
    const y = tf.tidy(() => {
      const logits = model.predict(x) as tf.Tensor;
      return needsSoftmax ? tf.softmax(logits) : logits;
    });
    const probs = (await y.data()) as Float32Array;
    x.dispose();
    y.dispose();
    const preds = Array.from(probs, (probability, index) => ({
      label: info.labels[index],
      index,
      probability,
    }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, TOP);
    renderBars(out, preds, `tfjs ${backend}, ${(performance.now() - t0).toFixed(0)} ms`);
  }

  async function classifyOnServer(file: File): Promise<void> {
    const out = $('server-result');
    const t0 = performance.now();
    const type = file.type === 'image/png' ? 'image/png' : 'image/jpeg';
    const res = await fetch(`/v1/predict?top=${TOP}`, {
      method: 'POST',
      headers: { 'Content-Type': type },
      body: file,
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    renderBars(out, body.predictions, `POST /v1/predict, ${(performance.now() - t0).toFixed(0)} ms`);
  }

  async function handle(file: File): Promise<void> {
    for (const id of ['browser-result', 'server-result']) {
      const el = $(id);
      delete el.dataset.top;
      delete el.dataset.error;
      el.textContent = '…';
    }
    $('agreement').textContent = '';
    const preview = $<HTMLImageElement>('preview');
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    await Promise.all([
      classifyInBrowser(file).catch((e) => showError($('browser-result'), String(e?.message ?? e))),
      classifyOnServer(file).catch((e) => showError($('server-result'), String(e?.message ?? e))),
    ]);
    const a = $('browser-result').dataset.top;
    const b = $('server-result').dataset.top;
    if (a && b)
      $('agreement').textContent =
        a === b ? `✓ browser and server agree: ${a}` : `✗ browser says ${a}, server says ${b}`;
  }

  const input = $<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    if (input.files?.[0]) void handle(input.files[0]);
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
    const file = e.dataTransfer?.files[0];
    if (file) void handle(file);
  });
}

main().catch((e) => {
  const status = document.getElementById('status')!;
  status.textContent = `error: ${e?.message ?? e}`;
  status.className = 'error';
});
