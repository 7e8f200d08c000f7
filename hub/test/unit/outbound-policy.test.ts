/**
 * The outbound address policy (issue 14, SSRF) as pure logic: which addresses a webhook may reach
 * by default, IPv6 spellings of refused IPv4 addresses, the operator's allow-list, URL checks at
 * registration, and webhook URLs masked on read. No sockets, no DNS.
 */
import { describe, expect, it } from 'vitest';
import { maskUrl } from '../../src/alerts/mask-url.ts';
import { jsonNestingExceeds, valueNestingExceeds } from '../../src/api/nesting.ts';
import { OutboundPolicy } from '../../src/outbound/address-policy.ts';

describe('outbound address policy', () => {
  const policy = new OutboundPolicy();

  it('refuses loopback, private, link-local, CGNAT, metadata, multicast and unspecified addresses', () => {
    for (const a of [
      '127.0.0.1',
      '127.8.9.10',
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.100.100.200',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '198.18.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      'fc00::5',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      '::127.0.0.1',
    ])
      expect(policy.refusal(a), a).toBeDefined();
  });

  it('lets public addresses through (positive control)', () => {
    for (const a of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2400:3200::1', '::ffff:8.8.8.8'])
      expect(policy.refusal(a), a).toBeUndefined();
  });

  it('admits what the operator allows: CIDRs, single addresses and host names', () => {
    const p = new OutboundPolicy(['10.20.0.0/16', '127.0.0.1', 'relay.lan', 'fd00:1::/32']);
    expect(p.refusal('10.20.3.4')).toBeUndefined();
    expect(p.refusal('10.21.3.4')).toBeDefined();
    expect(p.refusal('127.0.0.1')).toBeUndefined();
    expect(p.refusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(p.refusal('127.0.0.2')).toBeDefined();
    expect(p.refusal('fd00:1::9')).toBeUndefined();
    expect(p.hostAllowed('RELAY.lan')).toBe(true);
    expect(p.hostAllowed('relay.lan.evil.com')).toBe(false);
  });

  it('refuses a malformed allow-list entry at start-up, with the entry named', () => {
    expect(() => new OutboundPolicy(['10.0.0.0/40'])).toThrow(/10\.0\.0\.0\/40/);
    expect(() => new OutboundPolicy(['http://x'])).toThrow(/outbound.allow/);
  });

  it('checks URLs at registration: scheme, credentials, literal and well-known loopback hosts', async () => {
    await expect(policy.checkUrl('http://169.254.169.254/latest/meta-data/')).rejects.toMatchObject({
      code: 'GH_ERR_OUTBOUND_FORBIDDEN',
    });
    await expect(policy.checkUrl('http://[::1]:8080/x')).rejects.toMatchObject({
      code: 'GH_ERR_OUTBOUND_FORBIDDEN',
    });
    await expect(policy.checkUrl('http://localhost:1880/atk')).rejects.toMatchObject({
      code: 'GH_ERR_OUTBOUND_FORBIDDEN',
    });
    await expect(policy.checkUrl('ftp://example.com/')).rejects.toMatchObject({ code: 'GH_ERR_VALIDATION' });
    await expect(policy.checkUrl('https://u:p@example.com/')).rejects.toMatchObject({
      code: 'GH_ERR_VALIDATION',
    });
    await expect(policy.checkUrl('https://203.0.114.9/hook')).resolves.toBeUndefined();
  });
});

describe('webhook URLs on read', () => {
  it('masks robot keys in the query and the path, and keeps what identifies the target', () => {
    expect(maskUrl('https://open.feishu.cn/open-apis/bot/v2/hook/3b5c8a5e-1f2b-4c7a-9d0e-123456789abc')).toBe(
      'https://open.feishu.cn/open-apis/bot/v2/hook/****',
    );
    expect(maskUrl('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7a1b')).toBe(
      'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****',
    );
    expect(maskUrl('https://oapi.dingtalk.com/robot/send?access_token=abc123&sign=x')).toBe(
      'https://oapi.dingtalk.com/robot/send?access_token=****&sign=****',
    );
    expect(maskUrl('https://recv.example.com/in/aZ3kLm9QpR2sT5uV8wXy')).toBe(
      'https://recv.example.com/in/****',
    );
    expect(maskUrl('http://127.0.0.1:3000/duty-phone')).toBe('http://127.0.0.1:3000/duty-phone');
  });
});

describe('nesting bounds', () => {
  it('finds deep nesting in JSON text without parsing it, ignoring brackets in strings', () => {
    expect(jsonNestingExceeds(`${'['.repeat(33)}${']'.repeat(33)}`, 32)).toBe(true);
    expect(jsonNestingExceeds(`${'['.repeat(32)}${']'.repeat(32)}`, 32)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ text: '['.repeat(100), q: 'a\\"[[' }), 32)).toBe(false);
    expect(jsonNestingExceeds(`{"a":${'{"a":'.repeat(40)}1${'}'.repeat(41)}`, 32)).toBe(true);
  });

  it('finds deep nesting in parsed values iteratively, cycles included', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(valueNestingExceeds(deep, 32)).toBe(true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(valueNestingExceeds(cyclic, 32)).toBe(false);
    expect(valueNestingExceeds({ a: { b: [1, 2, { c: 3 }] } }, 32)).toBe(false);
  });
});
