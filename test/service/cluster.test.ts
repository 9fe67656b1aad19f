import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { exampleLoan } from '../helpers/app.js';
import { freePort, runServer } from '../helpers/net.js';

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
  }, 40_000);
});
