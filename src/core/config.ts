import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where Prescient keeps its state. One root, overridable by PRESCIENT_HOME (tests give each
 * run its own). Every component takes its folder from here instead of inventing one.
 */
export interface Paths {
  home: string;
  bases: string; // built and imported base images, cached by recipe
  layers: string; // pipeline layer cache
  registry: string; // OCI image layout
  runtime: string; // mounts, sockets, pid files of live sessions (cleaned at start)
  store: string; // SQLite database file
  models: string; // trained models
  secrets: string; // HMAC key and other secrets, mode 0700
  packageCache: string; // guest package downloads and lists, shared by builds, never in a layer
}

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PRESCIENT_HOME) return resolve(env.PRESCIENT_HOME);
  return join(homedir(), '.prescient');
}

export function paths(home: string = defaultHome()): Paths {
  return {
    home,
    bases: join(home, 'bases'),
    layers: join(home, 'layers'),
    registry: join(home, 'registry'),
    runtime: join(home, 'run'),
    store: join(home, 'prescient.db'),
    models: join(home, 'models'),
    secrets: join(home, 'secrets'),
    packageCache: join(home, 'cache', 'packages'),
  };
}
