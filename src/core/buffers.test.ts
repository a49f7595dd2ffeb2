import { test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseBuffer } from './buffers.ts';

test('releaseBuffer frees a buffer that spans its own memory, and leaves shared memory alone', () => {
  const own = Buffer.alloc(1 << 20, 1);
  const backing = own.buffer;
  releaseBuffer(own);
  assert.equal(backing.byteLength, 0, 'its memory is released');
  assert.equal(own.length, 0);

  const whole = Buffer.alloc(1 << 16, 2);
  const part = whole.subarray(10, 100);
  releaseBuffer(part);
  assert.equal(whole.length, 1 << 16, 'a view of part of a buffer does not free the rest');

  const pooled = Buffer.from('small strings share a pool');
  releaseBuffer(pooled);
  assert.equal(pooled.toString(), 'small strings share a pool');

  const shared = Buffer.from(new SharedArrayBuffer(4096));
  releaseBuffer(shared);
  assert.equal(shared.length, 4096, 'shared memory is never detached');

  releaseBuffer(own); // twice is harmless
});
