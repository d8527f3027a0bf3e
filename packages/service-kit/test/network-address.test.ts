import { describe, expect, it } from 'vitest';
import {
  classifyAddress,
  ipLiteralOf,
  isPrivateAddress,
  PRIVATE_ADDRESS_CODE,
  publicOnlyLookup,
} from '../src/network-address.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:a9fe:a9fe]', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['ff02::1', 'multicast'],
    ['not-an-address', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.1.1',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2001:db8::1',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2a00:1450::1',
  ])('%s is public', (address) => {
    expect(classifyAddress(address)).toBeUndefined();
    expect(isPrivateAddress(address)).toBe(false);
  });

  it('reads IP literals out of URLs, as URL normalises them', () => {
    expect(ipLiteralOf(new URL('http://[::ffff:127.0.0.1]:8080/x'))).toBe('::ffff:7f00:1');
    expect(ipLiteralOf(new URL('http://0x7f.1/'))).toBe('127.0.0.1');
    expect(ipLiteralOf(new URL('http://2130706433/'))).toBe('127.0.0.1');
    expect(ipLiteralOf(new URL('https://example.com/'))).toBeUndefined();
  });
});

describe('publicOnlyLookup', () => {
  const lookup = (hostname: string, all: boolean) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      publicOnlyLookup(hostname, { all }, (error, address) => resolve({ error, address })),
    );

  it('refuses a name that resolves to a loopback address, in both answer forms', async () => {
    for (const all of [true, false]) {
      const { error } = await lookup('localhost', all);
      expect(error?.code).toBe(PRIVATE_ADDRESS_CODE);
      expect(error?.message).toMatch(/^localhost resolves to .*, a loopback address/);
    }
  });

  it('passes on resolution errors', async () => {
    const { error } = await lookup('no-such-host.invalid', true);
    expect(error?.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
