import type { PipelineModule } from '../define-module.js';
import { agentModule } from './agent/agent-module.js';
import { dataModule } from './data/data-module.js';
import { networkModule } from './network/network-module.js';
import { resourcesModule } from './resources/resources-module.js';
import { servicesModule } from './services/services-module.js';
import { sizingModule } from './sizing/sizing-module.js';
import { softwareModule } from './software/software-module.js';

/**
 * The modules, in the order their layers stack: from what changes least to what changes most,
 * because a layer's key holds its parent's, so a change rebuilds its layer and every one above.
 * resources only sets the VM spec (no layer); software is every package, in one apt run;
 * services enables them; network and data come next; sizing — service tuning, disk and swap,
 * the only Changes that depend on the predicted size — is last, so a daily re-prediction of
 * sizes rebuilds one small layer. The in-guest agent, only for a client that consented, comes
 * just before sizing with its own packages, so that a grant or a withdrawal rebuilds only its
 * layer and sizing. Adding a module is one folder and one line here.
 */
export const builtinModules: readonly PipelineModule<any>[] = [resourcesModule, softwareModule, servicesModule, networkModule, dataModule, agentModule, sizingModule];
