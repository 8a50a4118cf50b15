import { execFileSync } from 'node:child_process';
import { ValidationError } from '../../core/errors.js';

/**
 * How a base image is made. The recipe is the cache key: the same recipe gives the same
 * image, so a second build is a lookup. Change a field (or `revision`) and it is rebuilt.
 */
export interface DebianRecipe {
  name: string;
  distribution: 'debian';
  suite: string;
  variant: 'minbase';
  /** Packages on top of minbase: what makes the image bootable and manageable. */
  include: string[];
  /** Installed with the guest's apt once debootstrap is done. */
  install: string[];
  mirror: string;
  securityMirror: string;
  diskSizeGiB: number;
  hostname: string;
  /** Archive snapshots may carry expired Release files; apt in the guest must then accept them. */
  acceptExpiredRelease: boolean;
  /** Bump when the build steps change in a way the fields above do not show. */
  revision: number;
}

const bookwormBootable = [
  'systemd-sysv',
  'systemd-resolved',
  'udev',
  'linux-image-amd64',
  'iproute2',
  'netbase',
  'ca-certificates',
  'dbus',
  'procps',
  'less',
];

/**
 * Login on first boot: cloud-init applies the per-request NoCloud seed (hostname, the client's
 * user and SSH keys); the SSH server's host keys are made per machine, never in the base.
 * Installed with apt after debootstrap: debootstrap's own configure order fails on cloud-init's
 * Python dependencies (python3-cryptography before python3).
 */
const bookwormLogin = ['cloud-init', 'openssh-server'];

export interface RecipeOptions {
  mirror?: string;
  acceptExpiredRelease?: boolean;
}

export const baseRecipeNames = ['debian-12'] as const;
export type BaseRecipeName = (typeof baseRecipeNames)[number];

export function recipeFor(name: string, options: RecipeOptions = {}): DebianRecipe {
  if (name !== 'debian-12') throw new ValidationError('recipe', `unknown base ${JSON.stringify(name)}; known: ${baseRecipeNames.join(', ')}`);
  const mirror = options.mirror ?? process.env.PRESCIENT_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  return {
    name,
    distribution: 'debian',
    suite: 'bookworm',
    variant: 'minbase',
    include: bookwormBootable,
    install: bookwormLogin,
    mirror,
    securityMirror: mirror.replace(/\/debian\/?$/, '/debian-security'),
    diskSizeGiB: 4,
    hostname: 'prescient',
    acceptExpiredRelease: options.acceptExpiredRelease ?? hostAcceptsExpiredRelease(),
    revision: 6,
  };
}

let hostAccepts: boolean | undefined;

/**
 * When the host's apt is told to accept expired Release files, its archive is a snapshot; the
 * guest, built from and updated against the same archive, needs the same setting.
 */
function hostAcceptsExpiredRelease(): boolean {
  // Asked once per process: `serve` resolves its base names every few seconds on the request
  // path, and a synchronous apt-config there stalled every request behind it.
  hostAccepts ??= (() => {
    try {
      return /Acquire::Check-Valid-Until "(false|0)"/.test(execFileSync('apt-config', ['dump'], { encoding: 'utf8' }));
    } catch {
      return false;
    }
  })();
  return hostAccepts;
}
