import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lifecycle, type Component } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/logger.js';

function recorder(events: string[], name: string, failStart = false): Component {
  return {
    name,
    start: () => {
      events.push(`start ${name}`);
      return failStart ? Promise.reject(new Error(`${name} failed`)) : Promise.resolve();
    },
    stop: () => {
      events.push(`stop ${name}`);
      return Promise.resolve();
    },
  };
}

test('lifecycle stops in reverse order', async () => {
  const events: string[] = [];
  const lifecycle = new Lifecycle(silentLogger());
  lifecycle.add(recorder(events, 'a'));
  lifecycle.add(recorder(events, 'b'));
  lifecycle.add(recorder(events, 'c'));
  await lifecycle.start();
  await lifecycle.stop();
  assert.deepEqual(events, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
});

test('failed start stops what started', async () => {
  const events: string[] = [];
  const lifecycle = new Lifecycle(silentLogger());
  lifecycle.add(recorder(events, 'a'));
  lifecycle.add(recorder(events, 'b', true));
  lifecycle.add(recorder(events, 'c'));
  await assert.rejects(lifecycle.start(), /b failed/);
  assert.deepEqual(events, ['start a', 'start b', 'stop a']);
});

test('stop runs once when called twice', async () => {
  const events: string[] = [];
  const lifecycle = new Lifecycle(silentLogger());
  lifecycle.add(recorder(events, 'a'));
  await lifecycle.start();
  await Promise.all([lifecycle.stop(), lifecycle.stop()]);
  assert.deepEqual(events, ['start a', 'stop a']);
});

test('failing stop does not block the rest', async () => {
  const events: string[] = [];
  const lifecycle = new Lifecycle(silentLogger());
  lifecycle.add(recorder(events, 'a'));
  lifecycle.add({
    name: 'broken',
    start: () => Promise.resolve(),
    stop: () => Promise.reject(new Error('cannot stop')),
  });
  await lifecycle.start();
  await lifecycle.stop();
  assert.deepEqual(events, ['start a', 'stop a']);
});
