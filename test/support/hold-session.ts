// Opens a session, changes the image, says "ready" and waits to be killed: the SIGKILL test's
// victim. Usage: node hold-session.js IMAGE RUNTIME_DIR [exec]
import { openImage } from '../../src/image/open.js';

const [image, runtimeDir, mode] = process.argv.slice(2);
const session = await openImage(image!, { runtimeDir: runtimeDir!, backend: 'mount' });
await session.writeFile('/half-written', 'x'.repeat(100_000));
if (mode === 'exec') {
  process.stdout.write('ready\n');
  await session.exec(['sleep', '60']);
} else {
  process.stdout.write('ready\n');
  setInterval(() => {}, 1000);
}
