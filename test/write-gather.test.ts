// The writer gathers small writes that continue one another (src/pipeline/io/write-gather.ts) and
// workers write into the same image through their own descriptors. Blocks the main thread wrote and
// then handed to a worker must see the main thread's bytes first and the worker's last.
import test from 'node:test';
import assert from 'node:assert/strict';
import { WriteGather } from '../src/pipeline/io/write-gather.js';

/** A "file" of 16 KiB, written by the gatherer and (directly) by a "worker". */
function setup() {
  const file = new Uint8Array(16384);
  let writes = 0;
  const g = new WriteGather((buf, pos, start, end) => {
    writes++;
    file.set(buf.subarray(start, end), pos);
  }, new Uint8Array(16384));
  const worker = (pos: number, len: number, byte: number) => file.fill(byte, pos, pos + len);
  return { file, g, worker, writes: () => writes };
}

test('takeback_zeros_over_reused_blocks: zeros gathered over a block go out before a worker writes it', () => {
  const { file, g, worker } = setup();
  file.fill(0xee);
  // takeBack zeroes the taken-back file's last block (gathered: under half the buffer) ...
  g.write(new Uint8Array(4096), 4096);
  // ... the block goes to the next file, whose pcluster a worker writes.
  g.handOver(4096, 8192);
  worker(4096, 4096, 0xab);
  g.flush();
  assert.ok(file.subarray(4096, 8192).every((b) => b === 0xab), 'the worker\'s pcluster survives');
  // Without the hand-over the zeros land last: what the finding was.
  const bad = setup();
  bad.g.write(new Uint8Array(4096), 4096);
  bad.worker(4096, 4096, 0xab);
  bad.g.flush();
  assert.ok(bad.file.subarray(4096, 8192).every((b) => b === 0), 'the scenario the hand-over guards against');
});

test('handOver of a range the gathered run does not touch keeps gathering (one write for both)', () => {
  const { file, g, worker, writes } = setup();
  g.write(new Uint8Array(100).fill(1), 0);
  g.handOver(4096, 8192);
  g.handOver(100, 200); // touches the end of the run, not inside it
  worker(4096, 4096, 0xab);
  g.write(new Uint8Array(100).fill(2), 100);
  assert.equal(writes(), 0);
  g.handOver(150, 151); // inside: out it goes
  assert.equal(writes(), 1);
  assert.deepEqual([file[0], file[99], file[100], file[199], file[4096]], [1, 1, 2, 2, 0xab]);
});
