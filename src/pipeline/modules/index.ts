import type { PipelineModule } from '../define-module.js';
import { dataModule } from './data/data-module.js';
import { networkModule } from './network/network-module.js';
import { resourcesModule } from './resources/resources-module.js';
import { servicesModule } from './services/services-module.js';
import { softwareModule } from './software/software-module.js';

/**
 * The modules, in the order their layers stack. Data comes late so that a new dataset rebuilds
 * only its layer and the ones above. Adding a module is one folder and one line here.
 */
export const builtinModules: readonly PipelineModule<any>[] = [resourcesModule, softwareModule, servicesModule, networkModule, dataModule];
