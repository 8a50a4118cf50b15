import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BodyDeadline {
  /** The whole body must be in this long after the headers (routes that stream GiB bodies are exempt). */
  totalMs: number;
  /** Longest gap with no body byte arriving, on every route. */
  idleMs: number;
}

/**
 * Fastify turns Node's requestTimeout off and nothing else bounds a body: a client that sends
 * one byte every few seconds (slowloris) held its socket forever, on public routes too, until
 * the file descriptors ran out. Two minutes for 16 MiB is 140 KB/s; a minute of silence is no upload.
 */
export const defaultBodyDeadline: BodyDeadline = { totalMs: 120_000, idleMs: 60_000 };

/**
 * Watches one request's body until it is in: past `totalMs` (unless `streamsBody`) or `idleMs`
 * without a byte, `onExpired` is told which and the body is abandoned. The HTTP parser consumes
 * the socket's handle directly (no 'data' events), so its byte count is polled.
 */
export function watchBodyDeadline(input: { req: IncomingMessage; res: ServerResponse; limits: BodyDeadline; streamsBody: boolean; onExpired: (what: 'total' | 'idle', ms: number) => void }): void {
  const { req, res, limits } = input;
  if (req.complete || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) return;
  const socket = req.socket;
  const started = Date.now();
  let lastBytes = socket.bytesRead;
  let lastProgress = started;
  const poll = setInterval(
    () => {
      if (req.complete || res.writableFinished || socket.destroyed) return stop();
      const now = Date.now();
      if (socket.bytesRead !== lastBytes) {
        lastBytes = socket.bytesRead;
        lastProgress = now;
      }
      if (!input.streamsBody && now - started > limits.totalMs) return expire('total', limits.totalMs);
      if (now - lastProgress > limits.idleMs) return expire('idle', limits.idleMs);
    },
    Math.max(10, Math.min(1000, Math.floor(Math.min(limits.totalMs, limits.idleMs) / 4))),
  );
  poll.unref();
  const stop = (): void => clearInterval(poll);
  const expire = (what: 'total' | 'idle', ms: number): void => {
    stop();
    input.onExpired(what, ms);
  };
  res.once('close', stop);
}
