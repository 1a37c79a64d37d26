import { Command, InvalidArgumentError } from 'commander';
import { Dependencies } from './deps.ts';
import { formatReport, type SuiteReport } from './report.ts';
import type { ScenarioResult } from './result.ts';
import { runScenario, type SuiteOptions } from './runner.ts';
import { findScenarios, SCENARIOS } from './scenarios.ts';
import { killAllServiceProcesses } from './supervisor.ts';

/**
 * `npm run faults`: the chaos suite. Starts private NATS, Redis and PostgreSQL servers, then for each
 * scenario runs every engine service in a process of its own under steady load, injects the fault, and
 * checks that nothing acknowledged was lost, nothing was done twice and everything came back by itself.
 * Prints a table per scenario (or one JSON object with --json); exits 1 when a criterion fails.
 */

const positive = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
  return n;
};

const program = new Command('faults')
  .description('Reflex fault suite: kill services and dependencies under load and check that nothing is lost')
  .option('-s, --scenario <names>', `comma-separated scenarios, or "all": ${SCENARIOS.map((s) => s.name).join(', ')}`, 'all')
  .option('-r, --rate <events/s>', 'steady load during each scenario', positive('--rate'), 200)
  .option('-d, --duration <seconds>', 'seconds of load per scenario (the fault is at t=10 s, the restart at t=13 s)', positive('--duration'), 30)
  .option('--drain <seconds>', 'after the load, how long to wait at most for the engine to finish', positive('--drain'), 45)
  .option('--deadline <seconds>', 'deliveries due before the restart must have arrived this long after it', positive('--deadline'), 30)
  .option('--run-every <n>', 'one event in n starts a flow run', positive('--run-every'), 20)
  .option('--logs <dir>', 'keep every service log under <dir>/<scenario>/ (default: deleted with the run)')
  .option('--json', 'print one JSON object instead of tables')
  .option('--list', 'list the scenarios and exit')
  .showHelpAfterError();

program.parse();
const opts = program.opts<{ scenario: string; rate: number; duration: number; drain: number; deadline: number; runEvery: number; logs?: string; json?: boolean; list?: boolean }>();

if (opts.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`);
  process.exit(0);
}

const scenarios = (() => {
  try {
    return findScenarios(opts.scenario.split(',').map((s) => s.trim()).filter(Boolean));
  } catch (err) {
    return program.error((err as Error).message);
  }
})();
if (opts.duration < 15) program.error('--duration must be at least 15 s: the fault is at t=10 s and the restart at t=13 s');

const say = (line: string) => process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const options: SuiteOptions = {
  rate: opts.rate,
  durationSeconds: opts.duration,
  drainSeconds: opts.drain,
  deadlineSeconds: opts.deadline,
  runEvery: Math.round(opts.runEvery),
  logsDir: opts.logs,
  say,
};

const started = Date.now();
say(`starting private NATS, Redis and PostgreSQL`);
const deps = await Dependencies.start();
let interrupted = false;
const interrupt = (signal: string) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  say(`${signal}: stopping`);
  killAllServiceProcesses();
  void deps.destroy().finally(() => process.exit(130));
};
process.on('SIGINT', () => interrupt('SIGINT'));
process.on('SIGTERM', () => interrupt('SIGTERM'));

const results: ScenarioResult[] = [];
try {
  for (const scenario of scenarios) {
    const result = await runScenario(scenario, deps, options);
    results.push(result);
    say(`${scenario.name}: ${result.passed ? 'PASS' : 'FAIL'}${result.error ? ` (${result.error.split('\n')[0]})` : ''}`);
  }
} finally {
  await deps.destroy();
}

const report: SuiteReport = {
  settings: {
    rate: options.rate,
    duration_seconds: options.durationSeconds,
    drain_seconds: options.drainSeconds,
    deadline_seconds: options.deadlineSeconds,
    run_every: options.runEvery,
    scenarios: scenarios.map((s) => s.name),
  },
  passed: results.every((r) => r.passed),
  duration_seconds: Math.round((Date.now() - started) / 1000),
  scenarios: results,
};
process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
process.exit(report.passed ? 0 : 1);
