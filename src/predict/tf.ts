import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs');

let ready: Promise<Tf> | undefined;

/**
 * TensorFlow.js on its WebAssembly backend (tfjs-node has no build for this machine; the pure JS
 * backend is 7–20× slower on our recurrent layers). The .wasm files are loaded from the installed
 * package, never fetched.
 */
export function loadTf(): Promise<Tf> {
  ready ??= (async () => {
    // Imported on first use: commands that never touch a network do not pay for loading it.
    const tf = await import('@tensorflow/tfjs');
    const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
    // tfjs prints an advert for tfjs-node on first use; it is noise on our stdout.
    const log = console.log;
    console.log = () => {};
    try {
      if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
      await tf.ready();
    } finally {
      console.log = log;
    }
    return tf;
  })();
  return ready;
}
