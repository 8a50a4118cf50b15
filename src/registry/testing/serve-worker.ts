import { createApp, listen } from '../../server/app.js';
import { ociRoutes } from '../../server/routes/oci.js';
import { openRegistry } from '../registry.js';

/** A registry server in its own process (argv: layout root), for tests that SIGKILL it. */
const registry = await openRegistry({ root: process.argv[2]! });
const address = await listen(createApp({ routes: [ociRoutes({ registry })] }), 0);
process.stdout.write(`${JSON.stringify(address)}\n`);
