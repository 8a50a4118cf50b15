import { createApp, listen } from '../app.js';
import { ociRoutes } from '../routes/oci.js';
import { openRegistry } from '../../registry/registry.js';

/** A registry server in its own process (argv: layout root), for tests that SIGKILL it. */
const registry = await openRegistry({ root: process.argv[2]! });
const address = await listen(createApp({ routes: [ociRoutes({ registry })] }), 0);
process.stdout.write(`${JSON.stringify(address)}\n`);
