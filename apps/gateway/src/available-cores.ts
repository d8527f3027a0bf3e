import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The cores this process may use: the CPUs it may run on, capped by its
 * cgroup's CPU quota (a container's CPU limit, Kubernetes'
 * `resources.limits.cpu`) rounded down, and at least 1. Node 20's
 * `availableParallelism()` counts CPUs only: in a pod limited to one CPU on a
 * 32-core node it says 32, and 32 gateway processes there would share one
 * CPU's time and the pod's memory limit. With the two figures it came from.
 */
export function availableCores(root = '/'): { cores: number; cpus: number; quota: number | undefined } {
  const cpus = availableParallelism();
  const quota = cpuQuota(root);
  return { cores: quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.floor(quota))), cpus, quota };
}

/** A cgroup hierarchy that can hold a CPU quota, as `/proc/self/mountinfo` shows it. */
export interface CgroupMount {
  version: 1 | 2;
  /** The cgroup the mount shows at its mount point (`/` unless the mount is a subtree). */
  root: string;
  mountPoint: string;
}

/** mountinfo escapes space, tab, newline and backslash in paths as octal (`\040`). */
const unescapeOctal = (path: string) =>
  path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/** The cgroup v2 mounts and the cgroup v1 mounts of the `cpu` controller in `mountinfo`. */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    // `id parent major:minor root mount-point options [optional…] - type source super-options`
    const separator = line.indexOf(' - ');
    if (separator === -1) continue;
    const fields = line.slice(0, separator).split(' ');
    const [type, , superOptions = ''] = line.slice(separator + 3).split(' ');
    const [root, mountPoint] = [fields[3], fields[4]];
    if (root === undefined || mountPoint === undefined) continue;
    const at = { root: unescapeOctal(root), mountPoint: unescapeOctal(mountPoint) };
    if (type === 'cgroup2') mounts.push({ version: 2, ...at });
    else if (type === 'cgroup' && superOptions.split(',').includes('cpu')) mounts.push({ version: 1, ...at });
  }
  return mounts;
}

/** This process's cgroup in a hierarchy of `version`, from `/proc/self/cgroup` (`id:controllers:path`). */
function cgroupPath(cgroups: string, version: 1 | 2): string | undefined {
  for (const line of cgroups.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first === -1 || second === -1) continue;
    const controllers = line.slice(first + 1, second);
    const matches =
      version === 2
        ? line.slice(0, first) === '0' && controllers === ''
        : controllers.split(',').includes('cpu');
    if (matches) return line.slice(second + 1);
  }
  return undefined;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The quota in cores one cgroup directory sets: v2 `cpu.max` (`max` or `<quota> <period>`), v1 `cpu.cfs_*_us`. */
function quotaIn(directory: string, version: 1 | 2): number | undefined {
  let quota: number;
  let period: number;
  if (version === 2) {
    const [max, periodText] = (readText(join(directory, 'cpu.max')) ?? 'max').split(' ');
    quota = Number(max);
    period = Number(periodText);
  } else {
    quota = Number(readText(join(directory, 'cpu.cfs_quota_us')) ?? -1);
    period = Number(readText(join(directory, 'cpu.cfs_period_us')));
  }
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/**
 * This process's CPU quota in cores (1.5 for a limit of 1500m), the tightest
 * set on its cgroup or any cgroup above it that the mount shows, in either
 * cgroup version; `undefined` when none is set or nothing can be read (not
 * Linux). `root` is where `/proc` and the cgroup mounts are found (tests).
 */
export function cpuQuota(root = '/'): number | undefined {
  const mountinfo = readText(join(root, 'proc/self/mountinfo'));
  const cgroups = readText(join(root, 'proc/self/cgroup'));
  if (mountinfo === undefined || cgroups === undefined) return undefined;
  let tightest: number | undefined;
  for (const mount of cgroupMounts(mountinfo)) {
    const path = cgroupPath(cgroups, mount.version);
    if (path === undefined) continue;
    const top = join(root, mount.mountPoint);
    // A cgroup outside what the mount shows (another namespace's view): the mount's own limits apply.
    const inside =
      mount.root === '/' ? path : path.startsWith(`${mount.root}/`) ? path.slice(mount.root.length) : '/';
    for (let directory = join(top, inside); directory.startsWith(top); directory = dirname(directory)) {
      const quota = quotaIn(directory, mount.version);
      if (quota !== undefined && (tightest === undefined || quota < tightest)) tightest = quota;
      if (directory === top) break;
    }
  }
  return tightest;
}
