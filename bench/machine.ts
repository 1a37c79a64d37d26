import { fork } from 'node:child_process';
import net from 'node:net';

/**
 * What one hop between two processes costs on this machine: a one-byte TCP round trip on loopback between
 * this process and a child, after a warm-up. Every stage of Reflex is a process talking to others over
 * loopback (the API, NATS, the recorder, the automations service, Postgres, Redis, the receiver), so this is
 * the unit its figures are made of, and it differs between machines of the same size: on one 2-core VM a
 * round trip took 53–119 µs and 92–155 µs of CPU at its two ends together, several times what bare metal
 * takes (each write that wakes a sleeping peer crosses the hypervisor). Printed with every bench, so that figures from
 * two machines, or two days, can be told apart from a change in the code.
 */
export interface MachineProbe {
  loopback_round_trip_us: number;
  /** CPU of both ends per round trip (user + system). */
  cpu_per_round_trip_us: number;
}

const WARMUP = 500;
const ROUND_TRIPS = 5000;

/** The echoing end: plain JavaScript (no loader), answering its CPU use when asked over IPC. */
const ECHO = `
const net = require('node:net');
const server = net.createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); });
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => (m === 'cpu' ? process.send({ cpu: process.cpuUsage() }) : process.exit(0)));
`;

type Reply = { port?: number; cpu?: NodeJS.CpuUsage };

export async function probeMachine(): Promise<MachineProbe> {
  const child = fork('', [], { execArgv: ['-e', ECHO], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const reply = () => new Promise<Reply>((resolve, reject) => child.once('message', (m) => resolve(m as Reply)).once('exit', reject));
  const childCpu = async () => (child.send('cpu'), (await reply()).cpu as NodeJS.CpuUsage);
  let socket: net.Socket | undefined;
  try {
    const { port } = await reply();
    const s = (socket = net.connect(port as number, '127.0.0.1'));
    s.setNoDelay(true);
    await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
    const roundTrips = (n: number) =>
      new Promise<void>((resolve) => {
        let left = n;
        const onData = () => {
          if (--left > 0) return void s.write('x');
          s.off('data', onData);
          resolve();
        };
        s.on('data', onData);
        s.write('x');
      });
    await roundTrips(WARMUP);
    const [ownBefore, childBefore] = [process.cpuUsage(), await childCpu()];
    const started = performance.now();
    await roundTrips(ROUND_TRIPS);
    const elapsedMs = performance.now() - started;
    const own = process.cpuUsage(ownBefore);
    const childAfter = await childCpu();
    const childUs = childAfter.user - childBefore.user + (childAfter.system - childBefore.system);
    return {
      loopback_round_trip_us: Math.round((elapsedMs * 1000) / ROUND_TRIPS),
      cpu_per_round_trip_us: Math.round((own.user + own.system + childUs) / ROUND_TRIPS),
    };
  } finally {
    socket?.destroy();
    if (child.connected) child.send('exit');
    else child.kill();
  }
}
