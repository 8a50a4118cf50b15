import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type Tf = typeof tf;

let ready: Promise<Tf> | undefined;

/**
 * TensorFlow.js on its WebAssembly backend (tfjs-node has no build for this machine; the pure JS
 * backend is 7–20× slower on our recurrent layers). The .wasm files are loaded from the installed
 * package, never fetched.
 */
export function loadTf(): Promise<Tf> {
  ready ??= (async () => {
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
