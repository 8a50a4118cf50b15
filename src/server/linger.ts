import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerLimits {
  /** Body bytes read and discarded after the answer before the socket is closed anyway. */
  maxBytes: number;
  /** How long the socket may linger for the rest of the body. */
  maxMs: number;
}

export const defaultLinger: LingerLimits = { maxBytes: 1024 * 1024, maxMs: 2000 };

const current = new WeakMap<Socket, IncomingMessage>();

/**
 * A lingering close (as nginx and Apache do): Node closes a `Connection: close` socket as soon as
 * the answer is written (`socket.destroySoon()`), and closing with unread request bytes in the
 * receive buffer makes the kernel send RST, which discards the answer the client has not read yet.
 * When the answer went out before the body was in, this half-closes (FIN after the answer), reads
 * and discards the rest of the body, and closes once it is in or past `limits`, whichever is first.
 */
export function lingerBeforeClose({ req, limits = defaultLinger }: { req: IncomingMessage; limits?: LingerLimits }): void {
  const socket = req.socket;
  const known = current.has(socket);
  current.set(socket, req);
  if (known) return;
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = (): void => {
    const pending = current.get(socket);
    if (pending === undefined || pending.complete || socket.destroyed) {
      destroySoon();
      return;
    }
    socket.end();
    pending.resume();
    const start = socket.bytesRead;
    const started = Date.now();
    // The HTTP parser consumes the socket's handle directly (no 'data' events), so its byte count is polled.
    const poll = setInterval(() => {
      if (pending.complete || socket.bytesRead - start > limits.maxBytes || Date.now() - started > limits.maxMs) {
        clearInterval(poll);
        socket.destroy();
      }
    }, 20);
    poll.unref();
    socket.once('close', () => clearInterval(poll));
  };
}
