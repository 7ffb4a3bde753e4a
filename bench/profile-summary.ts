// Summarize a V8 CPU profile (.cpuprofile, from node --cpu-prof): self time by
// package or ponte source file, and the top functions.
//   node_modules/.bin/tsx bench/profile-summary.ts bench/results/profile/CPU.*.cpuprofile
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function bucketOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const src = /\/dist\/(src\/.*)\.js$/.exec(url) ?? /\/(src\/.*)\.ts$/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Shares are of the busy time: idle samples are left out.
  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  for (const id of idleIds) self.delete(id);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  /** The nearest ancestor that is ponte's own code, or else the nearest JavaScript frame with a URL. */
  const callerOf = (id: number) => {
    let firstJs: string | undefined;
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const { functionName, url, lineNumber } = byId.get(p)!.callFrame;
      if (!url || url.startsWith('wasm://')) continue;
      const name = `${functionName || '(anonymous)'} ${bucketOf(url, functionName)}:${lineNumber + 1}`;
      firstJs ??= name;
      if (/\/dist\/src\/|\/src\//.test(url) && !url.includes('node_modules')) return name;
    }
    return firstJs ?? '(root)';
  };
  const bySrcCaller = new Map<string, number>();
  for (const [id, micros] of self) {
    const key = callerOf(id);
    bySrcCaller.set(key, (bySrcCaller.get(key) ?? 0) + micros);
  }
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const bucket = bucketOf(url, functionName);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + micros);
    const fn = `${functionName || '(anonymous)'} ${bucket}:${lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + micros);
  }
  const pct = (x: number) => `${((100 * x) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s busy (idle left out)\n  self time by package / file:\n`);
  for (const [k, v] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
  process.stdout.write('  self time charged to the nearest ponte function up the stack:\n');
  for (const [k, v] of [...bySrcCaller].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
  process.stdout.write('  top functions (self time):\n');
  for (const [k, v] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 30)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
}
