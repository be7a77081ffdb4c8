// Run by redis-faults.spec.ts in a plain node process, where an unhandled rejection is fatal.
// Usage: node --import ./test/redis/support/ts-register.mjs late-replies.child.ts <redis url>
// Prints "ready" once connected (the parent then SIGSTOPs the server), makes 40 calls that time
// out, prints "resume" (the parent SIGCONTs it) and waits for the late replies to arrive.
import { Redis } from 'ioredis';
import { FailSafeThrottleStore } from '../../../lib/stores/fail-safe-throttle-store.js';
import { RedisThrottleStore } from '../../../lib/stores/redis/redis-throttle-store.js';

const url = process.argv[2];
const client = new Redis(url, { commandTimeout: 1000 });
client.on('error', () => undefined);
await client.ping();
const store = new FailSafeThrottleStore(new RedisThrottleStore(client, { keyPrefix: `late:${process.pid}:` }), { onStoreError: 'allow', timeoutMs: 50, retryIntervalMs: 1 });
process.stdout.write('ready\n');
await new Promise((resolve) => setTimeout(resolve, 300));

let answered = 0;
const started = Date.now();
while (answered < 40 && Date.now() - started < 5000) {
  const [result] = await store.hit([{ key: `throttle_late_${answered}`, limit: 10, windowMs: 60_000, record: true }]);
  if (result.allowed) answered++;
}
// The parent resumes the server: the queued replies now arrive, long after their timeouts
// (and commandTimeout rejects any still pending later on).
process.stdout.write('resume\n');
await new Promise((resolve) => setTimeout(resolve, 1500));
await client.quit().catch(() => undefined);
process.stdout.write(`late replies swallowed: ${answered} calls answered by the policy\n`);
