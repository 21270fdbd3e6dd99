/**
 * Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`): overall, in this repository's src/,
 * and the time spent in Node internals / natives on behalf of src/ (attributed to the nearest src/ caller).
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const name = (f: CallFrame) => {
  const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(process.cwd(), '.')}` : '';
  return `${f.functionName || '(anonymous)'}  ${where}`;
};
const inSrc = (f: CallFrame) => f.url.includes('/src/') || f.url.includes('/dist/') || f.url.includes('/ab/');
const isLibrary = (f: CallFrame) => f.url.includes('node_modules') || f.url.includes('/bench/');

const self = new Map<string, number>();
const onBehalf = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] as number;
  const node = byId.get(id);
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  if (!node) continue;
  self.set(name(node.callFrame), (self.get(name(node.callFrame)) ?? 0) + dt);
  if (inSrc(node.callFrame) || isLibrary(node.callFrame)) continue;
  // A Node internal or native frame: charge it to the nearest caller in src/, unless a library is closer.
  for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
    const frame = (byId.get(up) as ProfileNode).callFrame;
    if (isLibrary(frame)) break;
    if (inSrc(frame)) {
      const key = `${name(frame)}  → ${node.callFrame.functionName || '(anonymous)'}`;
      onBehalf.set(key, (onBehalf.get(key) ?? 0) + dt);
      break;
    }
  }
}

const print = (title: string, list: [string, number][]) => {
  console.log(`\n${title}`);
  for (const [key, us] of list.slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
};
const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
const sum = (list: [string, number][]) => list.reduce((s, [, us]) => s + us, 0);

console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
print('Top self time, everything:', sorted(self));
const ours = sorted(self).filter(([key]) => key.includes('/src/') || key.includes('/dist/'));
print(`Top self time in src/ (${((sum(ours) / total) * 100).toFixed(1)}% of all):`, ours);
const behalf = sorted(onBehalf);
print(`Node internals and natives called from src/ (${((sum(behalf) / total) * 100).toFixed(1)}% of all):`, behalf);
const byPackage = new Map<string, number>();
for (const [key, us] of self) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(key);
  const pkg =
    m?.[1] ??
    (key.includes('/src/') || key.includes('/dist/')
      ? 'src (ours)'
      : key.includes('node:')
        ? 'node internals'
        : 'native/other');
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
print('Self time by package:', sorted(byPackage));
