import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Process and port helpers shared by the tools (scripts/bench.ts, scripts/ci/soak.ts) and the tests:
 * tools never import from test/. Helpers only tests use are in test/helpers/net.ts.
 */
/** A TCP port free on loopback right now (for a child process that must be told its port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunningServer {
  child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  exit: Promise<number | null>;
}

/**
 * `src/server.ts` in a child process, as `npm run dev` runs it, with its output collected.
 * `nodeArgs` go to node before the script (e.g. --expose-gc). `viaNpm`: through `npm run dev`
 * itself instead (npm's pid is then `child.pid`; the server's is in its log lines).
 */
export function runServer(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  viaNpm = false,
): RunningServer {
  const [command, args] = viaNpm
    ? ['npm', ['run', '--silent', 'dev']]
    : [process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts']];
  const child = spawn(command, args, {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}
