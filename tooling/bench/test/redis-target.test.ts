import { ConfigError } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { chooseRedisTarget } from '../src/redis-target.js';

describe('chooseRedisTarget', () => {
  it('starts its own redis-server when nothing names a Redis, even with REDIS_URL set', () => {
    expect(chooseRedisTarget({})).toEqual({ kind: 'own' });
    expect(chooseRedisTarget({ REDIS_URL: 'redis://10.0.0.1:6379' })).toEqual({ kind: 'own' });
  });

  it('uses BENCH_REDIS_URL as a standalone Redis, passed to child processes as REDIS_URL', () => {
    const choice = chooseRedisTarget({ BENCH_REDIS_URL: 'redis://127.0.0.1:7000', REDIS_PASSWORD: 'pw' });
    expect(choice).toMatchObject({
      kind: 'given',
      topology: { kind: 'standalone', url: 'redis://127.0.0.1:7000', password: 'pw' },
      env: { REDIS_URL: 'redis://127.0.0.1:7000', REDIS_PASSWORD: 'pw' },
    });
  });

  it('selects Redis Cluster from REDIS_CLUSTER_NODES, with its keys for child processes', () => {
    const choice = chooseRedisTarget({
      REDIS_CLUSTER_NODES: '127.0.0.1:7301,127.0.0.1:7302',
      REDIS_USERNAME: 'bench',
      PATH: '/usr/bin',
    });
    expect(choice).toEqual({
      kind: 'given',
      topology: expect.objectContaining({
        kind: 'cluster',
        nodes: [
          { host: '127.0.0.1', port: 7301 },
          { host: '127.0.0.1', port: 7302 },
        ],
        username: 'bench',
      }),
      env: { REDIS_CLUSTER_NODES: '127.0.0.1:7301,127.0.0.1:7302', REDIS_USERNAME: 'bench' },
    });
  });

  it('selects Sentinel from REDIS_SENTINELS and REDIS_SENTINEL_NAME', () => {
    const choice = chooseRedisTarget({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'jobfleet' });
    expect(choice).toMatchObject({
      kind: 'given',
      topology: { kind: 'sentinel', name: 'jobfleet', sentinels: [{ host: '127.0.0.1', port: 26379 }] },
      env: { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'jobfleet' },
    });
  });

  it('refuses bad combinations with the message every process gives, naming the keys', () => {
    const issues = (environment: Record<string, string>) => {
      try {
        chooseRedisTarget(environment);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues;
      }
      throw new Error('expected a ConfigError');
    };
    expect(issues({ REDIS_SENTINELS: '127.0.0.1:26379' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS/),
    ]);
    expect(issues({ REDIS_CLUSTER_NODES: '127.0.0.1:7301', REDIS_SENTINELS: '127.0.0.1:26379' })).toContain(
      'REDIS_CLUSTER_NODES and REDIS_SENTINELS: set one Redis topology, not both',
    );
    expect(
      issues({ BENCH_REDIS_URL: 'redis://127.0.0.1:7000', REDIS_CLUSTER_NODES: '127.0.0.1:7301' }),
    ).toEqual(['BENCH_REDIS_URL and REDIS_CLUSTER_NODES: set one Redis for the bench, not both']);
  });
});
