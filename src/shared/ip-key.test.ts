import { describe, expect, it } from 'vitest';
import { cidrRange, ipKey } from './ip-key.js';

describe('ip keys', () => {
  it('write IPv4 as IPv4-mapped IPv6 and expand IPv6, in address order', () => {
    expect(ipKey('198.51.100.9')).toBe('00000000000000000000ffffc6336409');
    expect(ipKey('::ffff:198.51.100.9')).toBe(ipKey('198.51.100.9'));
    expect(ipKey('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(ipKey('::1')).toBe('00000000000000000000000000000001');
    expect(ipKey('not an ip')).toBeNull();
    expect([ipKey('10.0.0.2')!, ipKey('9.255.255.255')!, ipKey('10.0.0.10')!].sort()).toEqual([ipKey('9.255.255.255'), ipKey('10.0.0.2'), ipKey('10.0.0.10')]);
  });

  it('turn a CIDR block into one range of keys', () => {
    expect(cidrRange('198.51.100.0/24')).toEqual({ from: ipKey('198.51.100.0'), to: ipKey('198.51.100.255') });
    expect(cidrRange('198.51.100.9')).toEqual({ from: ipKey('198.51.100.9'), to: ipKey('198.51.100.9') });
    expect(cidrRange('2001:db8::/32')).toEqual({ from: '20010db8000000000000000000000000', to: '20010db8ffffffffffffffffffffffff' });
    expect(cidrRange('0.0.0.0/0')).toEqual({ from: ipKey('0.0.0.0'), to: ipKey('255.255.255.255') });
    for (const bad of ['198.51.100.0/33', '198.51.100.0/x', '2001:db8::/129', 'host/24', '']) expect(cidrRange(bad), bad).toBeNull();
  });
});
