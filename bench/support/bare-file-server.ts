import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';

/**
 * The pull benchmark's bare Node figure: a node:http server (its own process, argv: file) that
 * answers every GET with the file, `createReadStream` (4 MiB reads, `BARE_CHUNK_BYTES` to change)
 * piped to the response — the textbook way, with no framework, route or auth. Prints
 * `{"port":n}` once listening.
 */
const file = process.argv[2]!;
const highWaterMark = Number(process.env['BARE_CHUNK_BYTES'] ?? 4 << 20);
const server = createServer((req, res) => {
  void (async () => {
    const { size } = await stat(file);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (req.method === 'HEAD') return void res.end();
    await pipeline(createReadStream(file, { highWaterMark }), res);
  })().catch(() => res.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
});
process.once('SIGTERM', () => server.close());
