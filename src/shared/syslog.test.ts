import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeServiceLog, createServiceLog } from './logger.js';
import { createSyslogStream, formatSyslog, truncateUtf8, type SyslogOptions, type SyslogStream } from './syslog.js';
import { selfSignedCertificate, type TestCertificate } from '../../test/helpers/certificates.js';

const BOM = '\ufeff';
const HEADER = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) - \ufeff/;
const host = printableHost();

function printableHost(): string {
  return hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';
}

const line = (fields: Record<string, unknown>) => `${JSON.stringify({ level: 30, time: '2026-03-01T12:34:56.789Z', service: 'countersign', ...fields })}\n`;

interface Parsed {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  msg: string;
}

function parse(message: Buffer): Parsed {
  const text = message.toString('utf8');
  const match = HEADER.exec(text);
  if (!match) throw new Error(`not RFC 5424: ${text}`);
  return { pri: Number(match[1]), timestamp: match[2]!, hostname: match[3]!, appName: match[4]!, procId: match[5]!, msgId: match[6]!, msg: text.slice(match[0].length) };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Splits RFC 6587 octet-counted frames (`LEN SP MSG`) out of a byte stream. */
function frameReader(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const space = pending.indexOf(0x20);
      if (space < 0) return;
      const length = Number(pending.subarray(0, space).toString('ascii'));
      if (!Number.isInteger(length) || length <= 0) throw new Error(`bad frame length "${pending.subarray(0, space).toString()}"`);
      if (pending.length < space + 1 + length) return;
      onMessage(pending.subarray(space + 1, space + 1 + length));
      pending = pending.subarray(space + 1 + length);
    }
  };
}

interface Receiver {
  port: number;
  messages: Buffer[];
  close(): Promise<void>;
}

async function udpReceiver(): Promise<Receiver> {
  const socket = dgram.createSocket('udp4');
  const messages: Buffer[] = [];
  socket.on('message', (message) => messages.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, messages, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

async function streamReceiver(server: net.Server, port = 0, messages: Buffer[] = []): Promise<Receiver> {
  const connections = new Set<net.Socket>();
  server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    connections.add(socket);
    socket.on('data', frameReader((message) => messages.push(Buffer.from(message))));
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    messages,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
      }),
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const open: SyslogStream[] = [];
const receivers: Receiver[] = [];
const stream = (options: SyslogOptions) => {
  const created = createSyslogStream(options);
  open.push(created);
  return created;
};
const track = (receiver: Receiver) => {
  receivers.push(receiver);
  return receiver;
};

afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()));
  await Promise.all(receivers.splice(0).map((each) => each.close()));
});

describe('RFC 5424 formatting', () => {
  const options = { hostname: 'mfa-1', pid: 4242, now: () => new Date('2026-01-02T03:04:05.678Z') };

  it('builds <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG from a pino line', () => {
    const text = line({ event: 'user.update', msg: 'x' });
    const message = formatSyslog(text, options);
    expect(message.toString('utf8')).toBe(`<134>1 2026-03-01T12:34:56.789Z mfa-1 countersign 4242 user.update - ${BOM}${text.trimEnd()}`);
    const bom = message.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(message.subarray(0, bom).toString('ascii')).toBe('<134>1 2026-03-01T12:34:56.789Z mfa-1 countersign 4242 user.update - ');
  });

  it('maps pino levels to severities and adds the facility', () => {
    const pri = (level: number, facility?: number) => parse(formatSyslog(line({ level }), { ...options, facility })).pri;
    expect([10, 20, 30, 40, 50, 60].map((level) => pri(level))).toEqual([16 * 8 + 7, 16 * 8 + 7, 16 * 8 + 6, 16 * 8 + 4, 16 * 8 + 3, 16 * 8 + 2]);
    expect(pri(30, 0)).toBe(6);
    expect(pri(50, 23)).toBe(23 * 8 + 3);
  });

  it('uses MSGID only for a printable event of at most 32 characters', () => {
    const msgId = (event: unknown) => parse(formatSyslog(line({ event }), options)).msgId;
    expect(msgId('a'.repeat(32))).toBe('a'.repeat(32));
    expect(msgId('a'.repeat(33))).toBe('-');
    expect(msgId('user update')).toBe('-');
    expect(msgId('usér')).toBe('-');
    expect(msgId(12)).toBe('-');
    expect(msgId(undefined)).toBe('-');
  });

  it('takes TIMESTAMP from an ISO time, else from epoch milliseconds, else from the clock', () => {
    const timestamp = (time: unknown) => parse(formatSyslog(line({ time }), options)).timestamp;
    expect(timestamp('2026-03-01T12:34:56.789+02:00')).toBe('2026-03-01T12:34:56.789+02:00');
    expect(timestamp(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000Z');
    expect(timestamp('yesterday')).toBe('2026-01-02T03:04:05.678Z');
    expect(timestamp('2026-03-01T12:34:56.1234567Z')).toBe('2026-01-02T03:04:05.678Z');
    expect(timestamp(undefined)).toBe('2026-01-02T03:04:05.678Z');
  });

  it('keeps header fields printable ASCII within their RFC lengths', () => {
    const header = (format: Parameters<typeof formatSyslog>[1]) => parse(formatSyslog(line({}), { ...options, ...format }));
    expect(header({ hostname: 'mfa 1\u00e9\n' }).hostname).toBe('mfa1');
    expect(header({ hostname: ' ' }).hostname).toBe('-');
    expect(header({ hostname: 'h'.repeat(300) }).hostname).toBe('h'.repeat(255));
    expect(header({ appName: 'a'.repeat(60) }).appName).toBe('a'.repeat(48));
  });

  it('sends a line that is not JSON as informational text', () => {
    const message = parse(formatSyslog('plain text\n', options));
    expect(message).toMatchObject({ pri: 134, timestamp: '2026-01-02T03:04:05.678Z', msgId: '-', msg: 'plain text' });
  });

  it('truncates without splitting a UTF-8 sequence', () => {
    const text = Buffer.from('ab€', 'utf8'); // € is three bytes
    expect(truncateUtf8(text, 4).toString('utf8')).toBe('ab');
    expect(truncateUtf8(text, 5).toString('utf8')).toBe('ab€');
    expect(truncateUtf8(Buffer.from('a🔐', 'utf8'), 4).toString('utf8')).toBe('a');
  });
});

describe('syslog over UDP (RFC 5426)', () => {
  it('sends one datagram per line with the exact header and the JSON line as MSG', async () => {
    const receiver = track(await udpReceiver());
    const syslog = stream({ protocol: 'udp', host: '127.0.0.1', port: receiver.port, facility: 4, appName: 'cs-test' });
    const first = line({ level: 40, event: 'auth.denied', user: 'zoë' });
    syslog.write(first);
    syslog.write(line({ level: 30, msg: 'second' }));
    await until(() => receiver.messages.length === 2, 'two datagrams');
    const message = parse(receiver.messages[0]!);
    expect(message).toEqual({
      pri: 4 * 8 + 4,
      timestamp: '2026-03-01T12:34:56.789Z',
      hostname: host,
      appName: 'cs-test',
      procId: String(process.pid),
      msgId: 'auth.denied',
      msg: first.trimEnd(),
    });
    expect(JSON.parse(message.msg)).toEqual(JSON.parse(first));
    expect(JSON.parse(parse(receiver.messages[1]!).msg)).toMatchObject({ msg: 'second' });
  });

  it('cuts a long message to maxMessageBytes at a character boundary', async () => {
    const receiver = track(await udpReceiver());
    const syslog = stream({ protocol: 'udp', host: '127.0.0.1', port: receiver.port, maxMessageBytes: 480 });
    // Padded so that byte 480 falls inside a multi-byte character.
    let text = '';
    for (let pad = 0; pad < 8 && !text; pad++) {
      const candidate = line({ msg: 'x'.repeat(pad) + '€🔐'.repeat(200) });
      if ((formatSyslog(candidate)[480]! & 0xc0) === 0x80) text = candidate;
    }
    expect(text).not.toBe('');
    syslog.write(text);
    await until(() => receiver.messages.length === 1, 'the datagram');
    const received = receiver.messages[0]!;
    expect(received.length).toBeLessThan(480);
    expect(received.length).toBeGreaterThan(476);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(received)).not.toThrow();
    expect(formatSyslog(text).subarray(0, received.length).equals(received)).toBe(true);
  });
});

describe('syslog over TCP (RFC 6587 octet counting)', () => {
  it('delivers several messages in order and intact, multi-byte text included', async () => {
    const receiver = track(await streamReceiver(net.createServer()));
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port: receiver.port });
    const lines = [line({ msg: 'one' }), line({ msg: 'Zoë 🔐 日本語', event: 'user.update' }), line({ msg: 'three\nwith a newline inside' }), line({ msg: 'four' })];
    for (const each of lines) syslog.write(each);
    await until(() => receiver.messages.length === lines.length, 'four frames');
    expect(receiver.messages.map((message) => parse(message).msg)).toEqual(lines.map((each) => each.trimEnd()));
    expect(parse(receiver.messages[1]!).msgId).toBe('user.update');
    expect(syslog.dropped).toBe(0);
  });

  it('sends what is queued before close() resolves', async () => {
    const receiver = track(await streamReceiver(net.createServer()));
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port: receiver.port });
    // Written before the lazy connection is up: all of it waits in the queue.
    for (let index = 0; index < 2000; index++) syslog.write(line({ msg: `m${index}` }));
    await syslog.close();
    await until(() => receiver.messages.length === 2000, 'all queued frames');
    expect(JSON.parse(parse(receiver.messages[1999]!).msg)).toMatchObject({ msg: 'm1999' });
    expect(syslog.dropped).toBe(0);
  });

  it('reconnects after the receiver goes away and comes back on the same port', async () => {
    const messages: Buffer[] = [];
    const first = await streamReceiver(net.createServer(), 0, messages);
    const port = first.port;
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port, minReconnectMs: 20, maxReconnectMs: 100 });
    syslog.write(line({ msg: 'before' }));
    await until(() => messages.length === 1, 'the first frame');
    await first.close();
    // Let the stream see the connection end before writing into it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    syslog.write(line({ msg: 'while away' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    track(await streamReceiver(net.createServer(), port, messages));
    await until(() => messages.length === 2, 'the queued frame');
    syslog.write(line({ msg: 'after' }));
    await until(() => messages.length === 3, 'a later frame');
    expect(messages.map((message) => JSON.parse(parse(message).msg).msg)).toEqual(['before', 'while away', 'after']);
  });

  it('keeps the newest messages when the queue is full', async () => {
    const port = await freePort();
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port, queueLimit: 3, minReconnectMs: 20, maxReconnectMs: 50 });
    for (let index = 1; index <= 5; index++) syslog.write(line({ msg: `m${index}` }));
    expect(syslog.dropped).toBe(2);
    const receiver = track(await streamReceiver(net.createServer(), port));
    await until(() => receiver.messages.length === 3, 'the three queued frames');
    expect(receiver.messages.map((message) => JSON.parse(parse(message).msg).msg)).toEqual(['m3', 'm4', 'm5']);
  });

  it('neither throws nor hangs close() when nothing listens, and reports the failure once', async () => {
    const port = await freePort();
    const errors: Error[] = [];
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port, minReconnectMs: 10, maxReconnectMs: 20, onError: (error) => errors.push(error) });
    for (let index = 0; index < 3; index++) expect(() => syslog.write(line({ msg: `m${index}` }))).not.toThrow();
    await until(() => errors.length > 0, 'the error report');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(errors.map((error) => (error as NodeJS.ErrnoException).code)).toEqual(['ECONNREFUSED']);
    const started = Date.now();
    await syslog.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(syslog.dropped).toBe(3);
    syslog.write(line({ msg: 'after close' }));
    expect(syslog.dropped).toBe(4);
  });

  it('gives up on close() after closeTimeoutMs when the receiver never finishes', async () => {
    // A receiver that accepts but never reads nor closes: a half-open peer.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => socket.pause());
    const receiver = track(await streamReceiver(server));
    const syslog = stream({ protocol: 'tcp', host: '127.0.0.1', port: receiver.port, closeTimeoutMs: 200 });
    syslog.write(line({ msg: 'x' }));
    const started = Date.now();
    await syslog.close();
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl)('syslog over TLS (RFC 5425)', () => {
  let certificate: TestCertificate;
  let dir: string;
  let key: string;
  let cert: string;

  beforeAll(() => {
    certificate = selfSignedCertificate('countersign-syslog-');
    ({ key, cert } = certificate);
    dir = dirname(certificate.certFile);
  });

  afterAll(() => certificate.dispose());

  it('delivers octet-counted frames to a receiver whose certificate the CA file vouches for', async () => {
    const receiver = track(await streamReceiver(tls.createServer({ key, cert })));
    const syslog = stream({ protocol: 'tls', host: '127.0.0.1', port: receiver.port, caFile: join(dir, 'cert.pem') });
    const lines = [line({ msg: 'one', event: 'user.update' }), line({ msg: 'Zoë 🔐' })];
    for (const each of lines) syslog.write(each);
    await until(() => receiver.messages.length === 2, 'two frames');
    expect(receiver.messages.map((message) => parse(message).msg)).toEqual(lines.map((each) => each.trimEnd()));
    expect(parse(receiver.messages[0]!).msgId).toBe('user.update');
  });

  it('refuses a receiver the system CAs do not vouch for, without throwing', async () => {
    const receiver = track(await streamReceiver(tls.createServer({ key, cert })));
    const errors: Error[] = [];
    const syslog = stream({ protocol: 'tls', host: '127.0.0.1', port: receiver.port, onError: (error) => errors.push(error) });
    syslog.write(line({ msg: 'secret-ish' }));
    await until(() => errors.length > 0, 'the certificate error');
    expect((errors[0] as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    await syslog.close();
    expect(receiver.messages).toEqual([]);
    expect(syslog.dropped).toBe(1);
  });

  it('stops at start-up on a CA file that is missing or not PEM, naming the key', () => {
    expect(() => createSyslogStream({ protocol: 'tls', host: '127.0.0.1', port: 6514, caFile: join(dir, 'missing.pem') })).toThrow(/log\.syslog\.caFile.*ENOENT/);
    expect(() => createSyslogStream({ protocol: 'tls', host: '127.0.0.1', port: 6514, caFile: join(dir, 'key.pem') })).toThrow(/log\.syslog\.caFile/);
  });
});

describe('the service log with syslog', () => {
  const capture = () => {
    const lines: string[] = [];
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { lines, stdout };
  };
  const syslogConfig = { host: '127.0.0.1', facility: 16, appName: 'countersign', caFile: '', maxMessageBytes: 2048 };

  it('sends a logged event with the event as MSGID', async () => {
    const receiver = track(await udpReceiver());
    const { stdout } = capture();
    const log = createServiceLog({ level: 'info', stdout, syslog: { ...syslogConfig, protocol: 'udp', port: receiver.port } });
    log.debug({ event: 'below.level' }, 'not sent');
    log.info({ event: 'user.update' }, 'x');
    await until(() => receiver.messages.length === 1, 'the datagram');
    await closeServiceLog(log);
    const message = parse(receiver.messages[0]!);
    expect(message).toMatchObject({ pri: 134, hostname: host, appName: 'countersign', procId: String(process.pid), msgId: 'user.update' });
    expect(JSON.parse(message.msg)).toMatchObject({ level: 30, event: 'user.update', msg: 'x', service: 'countersign', time: message.timestamp });
  });

  it('says on the other outputs when syslog delivery fails', async () => {
    const port = await freePort();
    const { lines, stdout } = capture();
    const log = createServiceLog({ level: 'info', stdout, syslog: { ...syslogConfig, protocol: 'tcp', port } });
    log.info({ event: 'user.update' }, 'x');
    await until(() => lines.some((each) => each.includes('log.syslog_failed')), 'the warning');
    await closeServiceLog(log);
    expect(JSON.parse(lines.find((each) => each.includes('log.syslog_failed'))!)).toMatchObject({ level: 40, port, protocol: 'tcp' });
  });

  it('adds no syslog output when the protocol is off', async () => {
    const receiver = track(await streamReceiver(net.createServer()));
    const { lines, stdout } = capture();
    const log = createServiceLog({ level: 'info', stdout, syslog: { ...syslogConfig, protocol: 'off', port: receiver.port } });
    log.info({ event: 'user.update' }, 'only stdout');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await closeServiceLog(log);
    expect(lines).toHaveLength(1);
    expect(receiver.messages).toEqual([]);
  });
});
