import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort, type RunningServer, runServer } from '../../scripts/lib/net.js';
import { exampleLoan } from '../helpers/app.js';
import { modelDirCopy } from '../helpers/models.js';
import { keepAliveThroughSigterm, waitFor } from '../helpers/net.js';

/** One request on a fresh connection, so the cluster's round robin spreads them over the workers. */
function send(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: payload ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('WORKERS=2 cluster', () => {
  it('serves on every worker, answers /metrics for the whole cluster, and stops all workers on SIGTERM', async () => {
    const port = await freePort();
    const server = runServer({ PORT: String(port), WORKERS: '2' });
    const { child, exit } = server;
    try {
      for (let i = 0; i < 150 && !server.output().includes('cluster ready'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(server.output()).toContain('cluster ready: 2 workers');
      const workerPids = new Set([...server.output().matchAll(/"pid":(\d+)[^\n]*Server listening/g)].map((m) => m[1]));
      expect(workerPids.size).toBe(2);

      const N = 40;
      for (let i = 0; i < N; i++) {
        const res = await send(port, 'POST', '/predict', exampleLoan);
        expect(res.status).toBe(200);
      }
      // Whichever worker answers, the counts are the cluster's: every request, not one worker's share.
      for (let i = 0; i < 4; i++) {
        const res = await send(port, 'GET', '/metrics');
        expect(res.status).toBe(200);
        expect(metric(res.text, 'http_requests_total{method="POST",route="/predict",status="200"}')).toBe(N);
        expect(metric(res.text, 'model_predictions_total{model="xgboost",version="1.0.0"}')).toBe(N);
        expect(metric(res.text, 'model_prediction_latency_seconds_count{model="xgboost",version="1.0.0"}')).toBe(N);
        expect(metric(res.text, 'model_info{model="xgboost",version="1.0.0",family="xgboost",default="true"}')).toBe(1);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
    expect(server.output()).toContain('shutting down: stopping every worker');
    expect(server.output().match(/"msg":"stopped"/g)?.length).toBe(3); // two workers, then the primary
  }, 90_000);
});

/** Pids of the workers that logged "Server listening", in order. */
function listeningPids(server: RunningServer): number[] {
  return [...server.output().matchAll(/"pid":(\d+)[^\n]*Server listening/g)].map((m) => Number(m[1]));
}

describe('WORKERS=2 cluster: faults and shutdown', () => {
  it('keeps serving when a replacement worker cannot load a broken MODEL_DIR, and brings it back once fixed', async () => {
    const { dir, artifact } = modelDirCopy();
    const good = readFileSync(artifact, 'utf8');
    const port = await freePort();
    const server = runServer({ PORT: String(port), WORKERS: '2', MODEL_DIR: dir });
    try {
      await waitFor(server, 'cluster ready');
      const [victim, survivor] = listeningPids(server);
      // A bad artifact: the reload is refused, the old set keeps serving.
      writeFileSync(artifact, good.slice(0, 4000));
      server.child.kill('SIGHUP');
      await waitFor(server, 'model reload failed');
      // A worker dies: its replacement cannot load the directory.
      process.kill(victim as number, 'SIGKILL');
      await waitFor(server, 'serving with 1 of 2 workers');
      expect(server.child.exitCode).toBeNull();
      expect(() => process.kill(survivor as number, 0)).not.toThrow();
      for (let i = 0; i < 10; i++) {
        expect((await send(port, 'POST', '/predict', exampleLoan)).status).toBe(200);
      }
      const metrics = (await send(port, 'GET', '/metrics')).text;
      expect(metric(metrics, 'cluster_workers_serving')).toBe(1);
      expect(metric(metrics, 'cluster_workers_configured')).toBe(2);
      // Fixed: a later attempt brings the cluster back to two workers.
      writeFileSync(artifact, good);
      for (let i = 0; i < 600 && listeningPids(server).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(listeningPids(server).length).toBe(3);
      await waitFor(server, 'serving with 2 of 2 workers');
      expect(server.output()).not.toContain('stopping the cluster');
    } finally {
      server.child.kill('SIGTERM');
      rmSync(dir, { recursive: true });
    }
    expect(await server.exit).toBe(0);
  }, 90_000);

  it('loses no keep-alive request on SIGTERM: every worker answers with Connection: close, then the port refuses', async () => {
    const port = await freePort();
    const server = runServer({ PORT: String(port), WORKERS: '2' });
    await waitFor(server, 'cluster ready');
    const body = JSON.stringify({ loans: Array(200).fill(exampleLoan) });
    const { results, code } = await keepAliveThroughSigterm(server, port, body);
    expect(code).toBe(0);
    for (const r of results) {
      expect(r.failures).toEqual([]);
      expect(r.lost).toBe(0);
      expect(r.end).toBe('refused');
    }
  }, 60_000);
});
