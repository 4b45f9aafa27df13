import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command and returns its standard output; rejects with its standard error. */
export async function sh(
  program: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  if (input === undefined) {
    const { stdout } = await execFileAsync(program, [...args], { timeout: 10_000 });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => {
      if (code === 0) {
        resolve(stdout);
      } else {
        reject(new Error(`${program} ${args.join(' ')}: ${stderr}`));
      }
    });
    child.stdin.end(input);
  });
}

async function available(program: string, args: readonly string[]): Promise<boolean> {
  try {
    await execFileAsync(program, [...args], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns whether network namespaces with nftables can be used: root, `ip
 * netns` and `nft`. Skips the test otherwise, except under CI=true, where a
 * missing tool is a failure.
 */
export async function requireNetns(t: TestContext): Promise<boolean> {
  let problem: string | undefined;
  if (process.getuid?.() !== 0) {
    problem = 'network namespace tests need root';
  } else if (!(await available('ip', ['netns', 'list']))) {
    problem = '`ip netns` is unavailable (install iproute2)';
  } else if (!(await available('nft', ['--version']))) {
    problem = 'nft is not installed (apt-get install -y nftables)';
  }
  if (problem === undefined) {
    return true;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${problem}; CI requires it (.ci/run installs it)`);
  }
  t.skip(`${problem}; skipping nftables namespace tests`);
  return false;
}

/** Addresses of the test topology, in the documentation ranges of RFC 5737. */
export const topology = {
  deviceAddress: '192.0.2.2',
  gatewayDeviceSide: '192.0.2.1',
  gatewayServerSide: '198.51.100.1',
  serverAddress: '198.51.100.2',
} as const;

export interface Topology {
  device: string;
  gateway: string;
  server: string;
  /** Runs `args` inside a namespace. */
  exec(namespace: string, args: readonly string[], input?: string): Promise<string>;
  /** Starts listeners in the server namespace: TCP accept on `tcpPorts`, UDP echo on `udpPorts`. */
  startServer(tcpPorts: readonly number[], udpPorts: readonly number[]): Promise<void>;
  /** Probes from the device namespace; returns `open` or `blocked` per `proto/port`. */
  probe(
    targets: readonly { protocol: 'tcp' | 'udp'; port: number }[],
  ): Promise<Record<string, 'open' | 'blocked'>>;
  destroy(): Promise<void>;
}

/** Creates namespaces only (no links), for tests that need just a gateway with nft. */
export async function createGatewayNamespace(): Promise<{
  name: string;
  destroy(): Promise<void>;
}> {
  const name = `mw-gw-${randomBytes(3).toString('hex')}`;
  await sh('ip', ['netns', 'add', name]);
  return {
    name,
    async destroy() {
      await sh('ip', ['netns', 'del', name]).catch(() => undefined);
    },
  };
}

const serverScript = `
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
const [tcp, udp] = JSON.parse(process.argv[1]);
let pending = tcp.length + udp.length;
const ready = () => { pending -= 1; if (pending === 0) { process.stdout.write('ready\\n'); } };
for (const port of tcp) {
  createServer((socket) => {
    socket.on('error', () => {});
    socket.end('hello\\n');
  }).listen(port, '0.0.0.0', ready);
}
for (const port of udp) {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  socket.bind(port, '0.0.0.0', ready);
}
`;

const probeScript = `
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
const [host, targets, timeoutMs] = JSON.parse(process.argv[1]);
const probe = ({ protocol, port }) => new Promise((resolve) => {
  const key = protocol + '/' + port;
  if (protocol === 'tcp') {
    const socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve([key, 'blocked']); }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve([key, 'open']); });
    socket.once('error', () => { clearTimeout(timer); resolve([key, 'blocked']); });
  } else {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => { socket.close(); resolve([key, 'blocked']); }, timeoutMs);
    socket.once('message', () => { clearTimeout(timer); socket.close(); resolve([key, 'open']); });
    socket.send(Buffer.from('ping'), port, host);
  }
});
const results = await Promise.all(targets.map(probe));
process.stdout.write(JSON.stringify(Object.fromEntries(results)));
`;

/**
 * Builds device <-> gateway <-> server namespaces joined by veth pairs. The
 * gateway forwards between them; the device's interface carries `deviceMac`.
 */
export async function createTopology(deviceMac: string): Promise<Topology> {
  const suffix = randomBytes(3).toString('hex');
  const device = `mw-dev-${suffix}`;
  const gateway = `mw-gw-${suffix}`;
  const server = `mw-srv-${suffix}`;
  const children: ChildProcess[] = [];
  const exec = (namespace: string, args: readonly string[], input?: string) =>
    sh('ip', ['netns', 'exec', namespace, ...args], input);
  const destroy = async () => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null) {
        child.kill('SIGTERM');
      }
    }
    for (const namespace of [device, gateway, server]) {
      await sh('ip', ['netns', 'del', namespace]).catch(() => undefined);
    }
  };
  try {
    for (const namespace of [device, gateway, server]) {
      await sh('ip', ['netns', 'add', namespace]);
      await exec(namespace, ['ip', 'link', 'set', 'lo', 'up']);
    }
    await sh('ip', [
      'link',
      'add',
      `d${suffix}`,
      'netns',
      device,
      'type',
      'veth',
      'peer',
      'name',
      `gd${suffix}`,
      'netns',
      gateway,
    ]);
    await sh('ip', [
      'link',
      'add',
      `s${suffix}`,
      'netns',
      server,
      'type',
      'veth',
      'peer',
      'name',
      `gs${suffix}`,
      'netns',
      gateway,
    ]);
    await exec(device, ['ip', 'link', 'set', `d${suffix}`, 'address', deviceMac]);
    await exec(device, ['ip', 'addr', 'add', `${topology.deviceAddress}/24`, 'dev', `d${suffix}`]);
    await exec(device, ['ip', 'link', 'set', `d${suffix}`, 'up']);
    await exec(device, ['ip', 'route', 'add', 'default', 'via', topology.gatewayDeviceSide]);
    await exec(gateway, [
      'ip',
      'addr',
      'add',
      `${topology.gatewayDeviceSide}/24`,
      'dev',
      `gd${suffix}`,
    ]);
    await exec(gateway, [
      'ip',
      'addr',
      'add',
      `${topology.gatewayServerSide}/24`,
      'dev',
      `gs${suffix}`,
    ]);
    await exec(gateway, ['ip', 'link', 'set', `gd${suffix}`, 'up']);
    await exec(gateway, ['ip', 'link', 'set', `gs${suffix}`, 'up']);
    await exec(gateway, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await exec(server, ['ip', 'addr', 'add', `${topology.serverAddress}/24`, 'dev', `s${suffix}`]);
    await exec(server, ['ip', 'link', 'set', `s${suffix}`, 'up']);
    await exec(server, ['ip', 'route', 'add', 'default', 'via', topology.gatewayServerSide]);
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    device,
    gateway,
    server,
    exec,
    async startServer(tcpPorts, udpPorts) {
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          server,
          process.execPath,
          '--input-type=module',
          '-e',
          serverScript,
          JSON.stringify([tcpPorts, udpPorts]),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      const [chunk] = (await Promise.race([
        once(child.stdout, 'data'),
        once(child, 'exit').then(() => {
          throw new Error('server namespace listener exited before it was ready');
        }),
      ])) as [Buffer];
      if (!chunk.toString().includes('ready')) {
        throw new Error(`server namespace listener printed ${chunk.toString()}`);
      }
    },
    async probe(targets) {
      const output = await exec(device, [
        process.execPath,
        '--input-type=module',
        '-e',
        probeScript,
        JSON.stringify([topology.serverAddress, targets, 400]),
      ]);
      return JSON.parse(output) as Record<string, 'open' | 'blocked'>;
    },
    destroy,
  };
}
