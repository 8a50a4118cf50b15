import { parentPort, Worker } from 'node:worker_threads';

/**
 * One job on a worker thread, asked for by many: a request made while a run is in flight shares
 * the next run (the arguments merged), and resolves once a run that started after it is over —
 * so a caller knows that what it had done before asking is covered. The thread starts on the
 * first request and is referenced only while someone waits, so it never keeps a process alive
 * on its own; a thread that dies fails its waiters, and the next request starts a new one.
 *
 *   main:   const job = startThreadJob<boolean>(new URL('./x-worker.js', import.meta.url), data, (a, b) => a || b);
 *           await job.run(true);
 *   worker: serveThreadJob<boolean>((arg) => ..., () => ...);
 */
export interface ThreadJob<A> {
  run(arg: A): Promise<void>;
  /** Waits for the runs asked for, then ends the thread (its `close` half runs first). */
  close(): Promise<void>;
}

type Request<A> = { type: 'run'; arg: A } | { type: 'close' };
type Reply = { type: 'done' } | { type: 'failed'; message: string };

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}
interface Run<A> {
  arg: A;
  waiters: Waiter[];
}

export function startThreadJob<A>(script: URL, workerData: unknown, merge: (a: A, b: A) => A): ThreadJob<A> {
  let worker: Worker | undefined;
  let running: Run<A> | undefined;
  let queued: Run<A> | undefined;
  let idle: (() => void) | undefined;
  let closed = false;

  const settle = (run: Run<A>, error?: Error): void => {
    for (const w of run.waiters) error ? w.reject(error) : w.resolve();
  };
  const start = (run: Run<A>): void => {
    running = run;
    worker!.ref(); // someone awaits this run: the process must not exit under it
    worker!.postMessage({ type: 'run', arg: run.arg } satisfies Request<A>);
  };
  const spawn = (): Worker => {
    const w = new Worker(script, { workerData });
    w.on('message', (reply: Reply) => {
      const done = running!;
      running = undefined;
      if (queued !== undefined) {
        const next = queued;
        queued = undefined;
        start(next);
      } else {
        w.unref();
        idle?.();
      }
      settle(done, reply.type === 'failed' ? new Error(reply.message) : undefined);
    });
    w.on('error', (e) => {
      worker = undefined;
      for (const run of [running, queued]) if (run) settle(run, e);
      running = queued = undefined;
      idle?.();
    });
    return w;
  };

  return {
    run(arg) {
      if (closed) return Promise.reject(new Error('the thread job is closed'));
      return new Promise<void>((resolve, reject) => {
        worker ??= spawn();
        const waiter = { resolve, reject };
        if (running === undefined) start({ arg, waiters: [waiter] });
        else if (queued === undefined) queued = { arg, waiters: [waiter] };
        else {
          queued.arg = merge(queued.arg, arg);
          queued.waiters.push(waiter);
        }
      });
    },
    async close() {
      closed = true;
      if (running !== undefined) await new Promise<void>((resolve) => (idle = resolve));
      const w = worker;
      worker = undefined;
      if (w === undefined) return;
      w.ref(); // an unreferenced thread would let the process exit while close() waits for it
      await new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.postMessage({ type: 'close' } satisfies Request<A>);
      });
    },
  };
}

/** The worker's half: `run` for each run (a throw fails that run's waiters), `close` once, last. */
export function serveThreadJob<A>(run: (arg: A) => void, close: () => void): void {
  const port = parentPort!;
  port.on('message', (m: Request<A>) => {
    if (m.type === 'close') {
      close();
      port.close();
      return;
    }
    let reply: Reply;
    try {
      run(m.arg);
      reply = { type: 'done' };
    } catch (e) {
      reply = { type: 'failed', message: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
}
