// The demo's second half (README "Quick start"): the shipped cifar10 model evaluated on the embedded held-out
// images and predicting some of them next to their true labels. The one-minute training half is the same
// trainImageClassifier run the training CLI tests cover, so it is not run here.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import '../src/index';
import { showShippedModel } from '../src/cli/demo';

test('demo: the shipped model scores >= 0.8 on the held-out images and shows predictions with true labels', async () => {
  const lines: string[] = [];
  const report = await showShippedModel((line) => lines.push(line));
  const text = lines.join('\n');
  assert.equal(report.images, 50);
  const printed = /^loss: \S+ {3}accuracy: (\d\.\d{4})/m.exec(text);
  assert.ok(printed, `no accuracy line in:\n${text}`);
  assert.equal(Number(printed[1]), Number(report.accuracy.toFixed(4)));
  assert.ok(report.accuracy >= 0.8, `accuracy ${report.accuracy}`);

  const shown = text.split('\n').filter((l) => / true \S+ +predicted \S+ /.test(l));
  assert.equal(shown.length, 10, text);
  for (const line of shown) {
    const [file, , trueLabel, , predicted, probability, mark] = line.trim().split(/ +/);
    assert.equal(path.basename(path.dirname(file)), trueLabel, line);
    assert.ok(Number(probability) > 0 && Number(probability) <= 1, line);
    assert.equal(mark, predicted === trueLabel ? 'right' : 'WRONG', line);
  }
});
