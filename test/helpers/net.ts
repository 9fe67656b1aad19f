import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { RunningServer } from '../../scripts/lib/net.js';

/** True when nothing accepts a connection on `port` of loopback any more. */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });
}

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A TypeScript script run to completion through tsx (as `npm run` runs it), its output collected. */
export function runScript(script: string, args: readonly string[], cwd?: string): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      ...(cwd ? { cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Waits (bounded by count) until the server's output contains `text`; throws with the output if it never does. */
export async function waitFor(p: RunningServer, text: string): Promise<void> {
  // Up to 40 s: a cluster starting its workers (each loading and warming the models) took 14 s on a machine
  // loaded by other test files; the test's own timeout bounds the whole.
  for (let i = 0; i < 800 && !p.output().includes(text); i++) await new Promise((r) => setTimeout(r, 50));
  if (!p.output().includes(text)) throw new Error(`no ${JSON.stringify(text)} in:\n${p.output()}`);
}

/** One keep-alive client: requests in a loop on one connection (a new one once the server closes it). */
interface LoopResult {
  answered: number;
  /** Written and never answered: the connection broke after the request went out. */
  lost: number;
  /** Why each lost request was lost: a status other than 200, or the socket error. */
  failures: string[];
  /** The last answer on a connection said `Connection: close`. */
  closedCleanly: number;
  /** How the loop ended: the server refused a new connection (nothing written), or the count ran out. */
  end: 'refused' | 'count';
}

function keepAliveLoop(port: number, body: string, onAnswer: () => void, maxRequests = 3000): Promise<LoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const result: LoopResult = { answered: 0, lost: 0, failures: [], closedCleanly: 0, end: 'count' };
  const once = () =>
    new Promise<'ok' | 'refused' | 'lost'>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/predict',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) result.answered++;
            if (res.headers.connection === 'close') result.closedCleanly++;
            if (res.statusCode !== 200) result.failures.push(`status ${res.statusCode}`);
            resolve(res.statusCode === 200 ? 'ok' : 'lost');
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') resolve('refused');
        else {
          result.failures.push(err.code ?? err.message);
          resolve('lost');
        }
      });
      req.end(body);
    });
  return (async () => {
    for (let i = 0; i < maxRequests; i++) {
      const outcome = await once();
      if (outcome === 'refused') {
        result.end = 'refused';
        break;
      }
      if (outcome === 'lost') result.lost++;
      else onAnswer();
    }
    agent.destroy();
    return result;
  })();
}

/**
 * Six keep-alive clients loop on POST /predict (200 loans a request) against a server started with
 * `runServer`; once they have 30 answers between them, SIGTERM. Resolves with each client's count and
 * the exit code.
 */
export async function keepAliveThroughSigterm(
  server: RunningServer,
  port: number,
  body: string,
): Promise<{ results: LoopResult[]; code: number | null }> {
  let answers = 0;
  const clients = Array.from({ length: 6 }, () => keepAliveLoop(port, body, () => answers++));
  for (let i = 0; i < 500 && answers < 30; i++) await new Promise((r) => setTimeout(r, 20));
  server.child.kill('SIGTERM');
  const results = await Promise.all(clients);
  return { results, code: await server.exit };
}
