import { connect } from 'node:net';

/**
 * QEMU's guestfwd runs this once per guest connection (`guestfwd=…-cmd:node loopback-pipe.js
 * PORT`) with the connection on stdin/stdout, and it relays it to 127.0.0.1:PORT. A `tcp:`
 * character device instead would be one connection opened when QEMU starts and shared by every
 * guest connection after it.
 */
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: loopback-pipe PORT\n');
  process.exit(2);
}
const socket = connect({ host: '127.0.0.1', port });
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on('error', () => process.exit(1));
socket.on('close', () => process.exit(0));
process.stdin.on('end', () => socket.end());
