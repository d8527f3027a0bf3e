import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableCores, cgroupMounts, cpuQuota } from '../src/available-cores.js';

// Each case lays out the files a Linux host shows (`/proc/self/…`, the cgroup mounts) under a
// directory of its own, as the kernel would for the layout named.
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function host(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'jobfleet-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  }
  return root;
}

const V2_MOUNT =
  '30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate';
const v1CpuMount = (root: string, at: string) =>
  `35 28 0:30 ${root} ${at} rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct`;
const V1_MEMORY = '36 28 0:31 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory';
const PROC_MOUNT = '22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw';

describe('cpuQuota', () => {
  it('reads cgroup v2 cpu.max in a container with a cgroup namespace (Kubernetes, limit 1500m)', () => {
    const root = host({
      'proc/self/mountinfo': [PROC_MOUNT, V2_MOUNT].join('\n'),
      'proc/self/cgroup': '0::/',
      'sys/fs/cgroup/cpu.max': '150000 100000',
    });
    expect(cpuQuota(root)).toBe(1.5);
    expect(availableCores(root).cores).toBe(1);
  });

  it('takes the tightest limit on the way up: a pod limit above an unlimited container', () => {
    const root = host({
      'proc/self/mountinfo': V2_MOUNT,
      'proc/self/cgroup': '0::/kubepods/pod-a/container-b',
      'sys/fs/cgroup/kubepods/cpu.max': 'max 100000',
      'sys/fs/cgroup/kubepods/pod-a/cpu.max': '200000 100000',
      'sys/fs/cgroup/kubepods/pod-a/container-b/cpu.max': 'max 100000',
    });
    expect(cpuQuota(root)).toBe(2);
  });

  it('reads cgroup v1 cpu.cfs_quota_us where the mount shows only the container’s own cgroup', () => {
    const root = host({
      'proc/self/mountinfo': [V1_MEMORY, v1CpuMount('/docker/abc', '/sys/fs/cgroup/cpu,cpuacct')].join('\n'),
      'proc/self/cgroup': '5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
    });
    expect(cpuQuota(root)).toBe(0.5);
    // Half a core is still one process.
    expect(availableCores(root).cores).toBe(1);
  });

  it('reads the v1 cpu hierarchy of a hybrid host, whose cgroup v2 mount holds no cpu controller', () => {
    const root = host({
      'proc/self/mountinfo': [
        '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
        v1CpuMount('/', '/sys/fs/cgroup/cpu'),
      ].join('\n'),
      'proc/self/cgroup': '4:cpu,cpuacct:/jobs\n0::/jobs',
      'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1',
      'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
      'sys/fs/cgroup/cpu/jobs/cpu.cfs_quota_us': '300000',
      'sys/fs/cgroup/cpu/jobs/cpu.cfs_period_us': '100000',
    });
    expect(cpuQuota(root)).toBe(3);
  });

  it('finds a mount point with an escaped space', () => {
    const root = host({
      'proc/self/mountinfo': '30 25 0:26 / /cg\\040two rw - cgroup2 cgroup2 rw',
      'proc/self/cgroup': '0::/',
      'cg two/cpu.max': '100000 100000',
    });
    expect(cgroupMounts('30 25 0:26 / /cg\\040two rw - cgroup2 cgroup2 rw')).toEqual([
      { version: 2, root: '/', mountPoint: '/cg two' },
    ]);
    expect(cpuQuota(root)).toBe(1);
  });

  it('is undefined without a limit, and off Linux: every CPU counts', () => {
    const unlimited = host({
      'proc/self/mountinfo': V2_MOUNT,
      'proc/self/cgroup': '0::/',
      'sys/fs/cgroup/cpu.max': 'max 100000',
    });
    expect(cpuQuota(unlimited)).toBeUndefined();
    expect(availableCores(unlimited).cores).toBe(availableParallelism());
    const v1Unlimited = host({
      'proc/self/mountinfo': v1CpuMount('/', '/sys/fs/cgroup/cpu'),
      'proc/self/cgroup': '4:cpu,cpuacct:/',
      'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1',
      'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
    });
    expect(cpuQuota(v1Unlimited)).toBeUndefined();
    const noProc = host({});
    expect(cpuQuota(noProc)).toBeUndefined();
    expect(availableCores(noProc).cores).toBe(availableParallelism());
  });

  it('never grants more processes than CPUs', () => {
    const root = host({
      'proc/self/mountinfo': V2_MOUNT,
      'proc/self/cgroup': '0::/',
      'sys/fs/cgroup/cpu.max': `${(availableParallelism() + 8) * 100_000} 100000`,
    });
    expect(availableCores(root).cores).toBe(availableParallelism());
  });
});
