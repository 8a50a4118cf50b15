/**
 * The abort signal of this CLI run: Ctrl-C or SIGTERM aborts long work, which then cleans up
 * (unmounts, stops daemons) before the process exits.
 */
const controller = new AbortController();
let installed = false;

export function cliSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return controller.signal;
}
