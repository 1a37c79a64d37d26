// Preload for a bench's engine processes: BENCH_CHILD_NODE_ARGS="--import ./bench/loop-delay.mjs" with
// BENCH_LOOP_DELAY_DIR=<dir> writes <dir>/<pid>.jsonl, one line a second: the event loop's delay (how
// long a timer due now waits for the loop) as p50 / p99 / max in ms, with the process's arguments. A
// saturated loop delays every callback, whatever its kind: this tells a busy process from a waiting one.
// Plain JavaScript: it is loaded before tsx.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.BENCH_LOOP_DELAY_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.jsonl`);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    const line = { t: Date.now(), args: process.argv.slice(2).join(' '), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    appendFileSync(file, JSON.stringify(line) + '\n');
  }, 1000).unref();
}
