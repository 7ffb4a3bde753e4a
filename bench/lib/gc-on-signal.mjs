// Preloaded into the ponte process by the bench (node --expose-gc --import):
// SIGWINCH runs a full garbage collection, so an RSS reading right after it does
// not depend on when V8 last collected (ponte's idle RSS swung between ~0.5 and
// ~0.85 GiB without it); SIGTTIN writes a heap snapshot into BENCH_HEAP_DIR.
import { writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';

process.on('SIGWINCH', () => {
  globalThis.gc?.();
});
process.on('SIGTTIN', () => {
  const dir = process.env.BENCH_HEAP_DIR;
  if (dir) writeHeapSnapshot(join(dir, `ponte-${Date.now()}.heapsnapshot`));
});
