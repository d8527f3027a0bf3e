import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  commonConfig,
  describeRedis,
  loadConfig,
  queuePrefix,
  redisTopology,
} from '../src/index.js';

const issuesOf = (env: Record<string, string>) => {
  try {
    loadConfig(commonConfig, env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues;
  }
};

describe('Redis topology configuration', () => {
  it('is standalone by default, with the URL as before', () => {
    const topology = redisTopology(loadConfig(commonConfig, {}));
    expect(topology).toMatchObject({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(topology.tls).toBeUndefined();
  });

  it('selects a cluster from its seed nodes, with credentials and TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobfleet-redis-'));
    writeFileSync(join(dir, 'password'), 's3cret\n');
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
    const config = loadConfig(commonConfig, {
      REDIS_CLUSTER_NODES: 'redis-0:7000, 10.0.0.2:7001,[::1]:7002',
      REDIS_USERNAME: 'jobfleet',
      REDIS_PASSWORD_FILE: join(dir, 'password'),
      REDIS_TLS: 'true',
      REDIS_TLS_CA_FILE: join(dir, 'ca.pem'),
    });
    const topology = redisTopology(config);
    expect(topology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'redis-0', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'jobfleet',
      password: 's3cret',
      tls: { ca: '-----BEGIN CERTIFICATE-----\n' },
    });
    expect(describeRedis(topology)).toBe('cluster redis-0:7000,10.0.0.2:7001,::1:7002 (tls)');
    expect(describeRedis(topology)).not.toContain('s3cret');
  });

  it('selects sentinels with their master name', () => {
    const topology = redisTopology(
      loadConfig(commonConfig, {
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'jobfleet',
        REDIS_PASSWORD: 'p',
        REDIS_SENTINEL_PASSWORD: 'sp',
      }),
    );
    expect(topology).toMatchObject({
      kind: 'sentinel',
      name: 'jobfleet',
      password: 'p',
      sentinelPassword: 'sp',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
    });
    expect(describeRedis(topology)).toBe('sentinel jobfleet@s1:26379,s2:26379');
  });

  it('refuses bad combinations at start, naming the keys, without echoing secrets', () => {
    expect(
      issuesOf({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_NAME: 'm' }),
    ).toEqual(['REDIS_CLUSTER_NODES and REDIS_SENTINELS: set one Redis topology, not both']);
    expect(issuesOf({ REDIS_URL: 'redis://x:6379', REDIS_CLUSTER_NODES: 'a:1' })[0]).toMatch(
      /^REDIS_URL and REDIS_CLUSTER_NODES: REDIS_URL is for a standalone Redis/,
    );
    expect(issuesOf({ REDIS_SENTINELS: 'b:2' })).toEqual([
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the master name the sentinels monitor)',
    ]);
    expect(issuesOf({ REDIS_SENTINEL_NAME: 'm' })).toEqual([
      'REDIS_SENTINEL_NAME: only applies with REDIS_SENTINELS',
    ]);
    const both = issuesOf({ REDIS_URL: 'redis://:hunter2@x:6379', REDIS_PASSWORD: 'other' });
    expect(both).toEqual([
      'REDIS_URL and REDIS_USERNAME/REDIS_PASSWORD: give the credentials in one place, not both',
    ]);
    expect(both.join()).not.toContain('hunter2');
    expect(issuesOf({ REDIS_CLUSTER_NODES: 'a:1', JOBFLEET_PREFIX: '{jobfleet}' })[0]).toMatch(
      /^JOBFLEET_PREFIX and REDIS_CLUSTER_NODES: on Redis Cluster the prefix must not contain/,
    );
    expect(issuesOf({ REDIS_CLUSTER_NODES: 'a:1,b' })[0]).toMatch(
      /^REDIS_CLUSTER_NODES: must be a comma-separated list of host:port \(bad item "b"\)/,
    );
    expect(issuesOf({ REDIS_CLUSTER_NODES: 'a:70000' })).toHaveLength(1);
  });

  it('keeps the standalone key layout and gives each queue its own hash tag on a cluster', () => {
    expect(queuePrefix({ isCluster: false }, 'jobfleet', 'emails')).toBe('jobfleet');
    expect(queuePrefix({ isCluster: true }, 'jobfleet', 'emails')).toBe('{jobfleet:emails}');
    expect(queuePrefix({ isCluster: true }, 'jobfleet', 'reports')).not.toBe(
      queuePrefix({ isCluster: true }, 'jobfleet', 'emails'),
    );
  });
});
