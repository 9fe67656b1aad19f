// SPIN_US=<µs> for the bench's bare servers (bench-ceiling.mjs, bench-fastify.mjs): `spin()` busy-waits
// that long, once per request before answering, as a stand-in for a server's own work (`npm run bench`
// uses the scoring's time per row: the floor rows).
const spinNs = BigInt(Math.round(Number(process.env.SPIN_US ?? 0) * 1000));

export function spin() {
  if (spinNs === 0n) return;
  const until = process.hrtime.bigint() + spinNs;
  while (process.hrtime.bigint() < until);
}
