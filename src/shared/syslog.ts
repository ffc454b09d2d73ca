import dgram from 'node:dgram';
import net from 'node:net';
import { hostname as osHostname } from 'node:os';
import tls from 'node:tls';
import { appError } from './errors.js';
import { readPemCertificate } from './pem.js';

export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

export interface SyslogFormatOptions {
  /** RFC 5424 §6.2.1 facility, 0..23. Default 16 (local0). */
  facility?: number;
  /** APP-NAME, printable ASCII, at most 48 characters. Default "countersign". */
  appName?: string;
  /** HOSTNAME. Default os.hostname(). */
  hostname?: string;
  /** PROCID. Default process.pid. */
  pid?: number;
  /** Clock for lines whose `time` is missing or unusable. */
  now?: () => Date;
}

export interface SyslogOptions extends SyslogFormatOptions {
  protocol: SyslogProtocol;
  host: string;
  port: number;
  /** PEM file of the CA that signed the receiver's certificate (tls). Empty: the system CAs. */
  caFile?: string;
  /** UDP: longest datagram; longer messages are cut at a character boundary. Default 2048. */
  maxMessageBytes?: number;
  /** tcp/tls: messages kept while the receiver is away; the oldest go first. Default 10,000. */
  queueLimit?: number;
  /** tcp/tls: first wait before reconnecting, doubled after each failure up to maxReconnectMs. */
  minReconnectMs?: number;
  maxReconnectMs?: number;
  connectTimeoutMs?: number;
  /** Longest wait in close() for queued messages to go out. */
  closeTimeoutMs?: number;
  /** Called once when delivery starts failing, again only after it has worked in between. */
  onError?: (error: Error) => void;
}

/** A pino destination (pino.multistream calls write with one JSON line). */
export interface SyslogStream {
  write(line: string): void;
  /** Sends what is queued when connected, closes the socket; resolves within closeTimeoutMs. */
  end(): Promise<void>;
  close(): Promise<void>;
  /** Messages lost so far: queue overflow, failed sends, or written after close. */
  readonly dropped: number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
// RFC 5424 §6.2.3: FULL-DATE "T" FULL-TIME, at most six fraction digits, Z or a numeric offset.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const TOKEN = /^[\x21-\x7e]{1,32}$/;
// The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes).
const UDP_PAYLOAD_MAX = 65_507;

/** RFC 5424 header fields allow only PRINTUSASCII (33..126); "-" is the NILVALUE. */
const printable = (text: string, max: number): string => text.replace(/[^\x21-\x7e]/g, '').slice(0, max) || '-';

/** RFC 5424 §6.2.1 severity for a pino level: fatal 2 critical, error 3, warn 4, info 6, debug and trace 7. */
function severityOf(level: unknown): number {
  const value = typeof level === 'number' ? level : typeof level === 'string' ? (LEVELS[level] ?? 30) : 30;
  if (value >= 60) return 2;
  if (value >= 50) return 3;
  if (value >= 40) return 4;
  if (value >= 30) return 6;
  return 7;
}

function timestampOf(time: unknown, now: () => Date): string {
  if (typeof time === 'string' && TIMESTAMP.test(time)) return time;
  if (typeof time === 'number' && Number.isFinite(time)) {
    const date = new Date(time);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  return now().toISOString();
}

function fieldsOf(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * One pino JSON line as an RFC 5424 message:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG`.
 * MSGID is the line's `event` when it is a printable token of at most 32
 * characters (§6.2.7); MSG is the whole line, marked as UTF-8 by the BOM (§6.4).
 */
export function formatSyslog(line: string, options: SyslogFormatOptions = {}): Buffer {
  const text = line.replace(/\r?\n$/, '');
  const fields = fieldsOf(text);
  const pri = (options.facility ?? 16) * 8 + severityOf(fields.level);
  const timestamp = timestampOf(fields.time, options.now ?? (() => new Date()));
  const host = printable(options.hostname ?? osHostname(), 255);
  const app = printable(options.appName ?? 'countersign', 48);
  const procId = printable(String(options.pid ?? process.pid), 128);
  const msgId = typeof fields.event === 'string' && TOKEN.test(fields.event) ? fields.event : '-';
  const header = `<${pri}>1 ${timestamp} ${host} ${app} ${procId} ${msgId} - `;
  return Buffer.concat([Buffer.from(header, 'ascii'), BOM, Buffer.from(text, 'utf8')]);
}

/** The first `max` bytes or fewer, never ending inside a UTF-8 sequence. */
export function truncateUtf8(message: Buffer, max: number): Buffer {
  if (message.length <= max) return message;
  let cut = max;
  // A continuation byte (10xxxxxx) at the cut means the character straddles it: cut before its lead byte.
  while (cut > 0 && (message[cut]! & 0xc0) === 0x80) cut--;
  return message.subarray(0, cut);
}

/** RFC 6587 §3.4.1 octet counting, also the framing of RFC 5425 §4.3: `MSG-LEN SP SYSLOG-MSG`. */
const frameOf = (message: Buffer): Buffer => Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);

/** Reports the first failure of an outage only, so a receiver that is away does not flood the log. */
class Health {
  private down = false;
  constructor(private readonly onError: ((error: Error) => void) | undefined) {}

  fail(error: Error): void {
    if (this.down) return;
    this.down = true;
    // Deferred: the callback may log, and logging writes back into this stream.
    setImmediate(() => {
      try {
        this.onError?.(error);
      } catch {
        // a failing reporter must not take the logger down
      }
    });
  }

  ok(): void {
    this.down = false;
  }
}

interface Transport {
  send(message: Buffer): void;
  close(): Promise<void>;
  readonly dropped: number;
}

class UdpTransport implements Transport {
  dropped = 0;
  private socket: dgram.Socket | undefined;
  private inFlight = 0;
  private whenIdle: (() => void) | undefined;
  private ending = false;
  private readonly max: number;

  constructor(
    private readonly options: SyslogOptions,
    private readonly health: Health,
  ) {
    this.max = Math.min(options.maxMessageBytes ?? 2048, UDP_PAYLOAD_MAX);
  }

  send(message: Buffer): void {
    if (this.ending) return void this.dropped++;
    const socket = (this.socket ??= this.open());
    this.inFlight++;
    // One message per datagram (RFC 5426 §3.1).
    socket.send(truncateUtf8(message, this.max), this.options.port, this.options.host, (error) => {
      this.inFlight--;
      if (error) {
        this.dropped++;
        this.health.fail(error);
      } else this.health.ok();
      if (this.inFlight === 0) this.whenIdle?.();
    });
  }

  private open(): dgram.Socket {
    const socket = dgram.createSocket(net.isIP(this.options.host) === 6 ? 'udp6' : 'udp4');
    socket.on('error', (error) => this.health.fail(error));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    socket.unref();
    return socket;
  }

  close(): Promise<void> {
    this.ending = true;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try {
          socket.close();
        } catch {
          // already closed
        }
        resolve();
      };
      const timer = setTimeout(finish, this.options.closeTimeoutMs ?? 2000);
      if (this.inFlight === 0) finish();
      else this.whenIdle = finish;
    });
  }
}

/** tcp and tls: one lazy connection, a bounded queue while it is away, reconnects with backoff. */
class StreamTransport implements Transport {
  dropped = 0;
  private socket: net.Socket | undefined;
  private ready = false;
  private blocked = false;
  private queue: Buffer[] = [];
  private retry: NodeJS.Timeout | undefined;
  private delay: number;
  private ending = false;
  private onClosed: (() => void) | undefined;

  constructor(
    private readonly options: SyslogOptions,
    private readonly health: Health,
    private readonly ca: string | undefined,
  ) {
    this.delay = options.minReconnectMs ?? 100;
  }

  send(message: Buffer): void {
    if (this.ending) return void this.dropped++;
    const frame = frameOf(message);
    if (this.ready && !this.blocked && this.queue.length === 0) {
      this.blocked = !this.socket!.write(frame);
      return;
    }
    if (this.queue.length >= (this.options.queueLimit ?? 10_000)) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(frame);
    if (!this.socket && !this.retry) this.connect();
  }

  private connect(): void {
    const { host, port, protocol } = this.options;
    // rejectUnauthorized is fixed: a log receiver that cannot prove who it is does not get the log.
    // SNI carries names only (RFC 6066 §3); an IP address is still checked against the certificate.
    const socket =
      protocol === 'tls'
        ? tls.connect({ host, port, ca: this.ca, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: true })
        : net.connect({ host, port });
    this.socket = socket;
    socket.setTimeout(this.options.connectTimeoutMs ?? 10_000, () => socket.destroy(new Error(`syslog ${host}:${port}: connect timed out`)));
    socket.setKeepAlive(true, 60_000);
    socket.unref();
    // Receivers send nothing; reading anyway notices at once when they close the connection.
    socket.resume();
    socket.on(protocol === 'tls' ? 'secureConnect' : 'connect', () => this.onReady(socket));
    socket.on('drain', () => {
      this.blocked = false;
      this.flush(socket);
    });
    socket.on('error', (error) => this.health.fail(error));
    socket.on('close', () => this.onClose(socket));
  }

  private onReady(socket: net.Socket): void {
    socket.setTimeout(0);
    this.ready = true;
    this.delay = this.options.minReconnectMs ?? 100;
    this.health.ok();
    if (this.ending) this.finish(socket);
    else this.flush(socket);
  }

  private flush(socket: net.Socket): void {
    while (this.queue.length > 0 && !this.blocked) this.blocked = !socket.write(this.queue.shift()!);
  }

  /** Writes everything left, whatever the backpressure, then ends the connection. */
  private finish(socket: net.Socket): void {
    for (const frame of this.queue) socket.write(frame);
    this.queue = [];
    socket.end();
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.ready = false;
    this.blocked = false;
    if (this.ending) {
      this.dropped += this.queue.length;
      this.queue = [];
      this.onClosed?.();
      return;
    }
    this.retry = setTimeout(() => {
      this.retry = undefined;
      // Nothing waiting: stay idle until the next message connects.
      if (this.queue.length > 0) this.connect();
    }, this.delay);
    this.retry.unref();
    this.delay = Math.min(this.delay * 2, this.options.maxReconnectMs ?? 30_000);
  }

  close(): Promise<void> {
    this.ending = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    const socket = this.socket;
    if (!socket) {
      this.dropped += this.queue.length;
      this.queue = [];
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => socket.destroy(), this.options.closeTimeoutMs ?? 2000);
      this.onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      // Still connecting: onReady finishes, or the failed attempt's close resolves.
      if (this.ready) this.finish(socket);
    });
  }
}


/** A pino destination that sends each line to a syslog receiver as RFC 5424 over UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425). */
export function createSyslogStream(options: SyslogOptions): SyslogStream {
  const facility = options.facility ?? 16;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) throw appError('config_invalid', `log.syslog.facility: expected 0 to 23, got ${facility}`);
  const format: SyslogFormatOptions = {
    facility,
    appName: options.appName,
    hostname: options.hostname ?? osHostname(),
    pid: options.pid,
    now: options.now,
  };
  const health = new Health(options.onError);
  const transport =
    options.protocol === 'udp'
      ? new UdpTransport(options, health)
      : new StreamTransport(options, health, options.protocol === 'tls' && options.caFile ? readPemCertificate(options.caFile, 'log.syslog.caFile') : undefined);
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= transport.close());
  return {
    write(line: string) {
      // Never throw into the logger: a broken log receiver must not fail a request.
      try {
        transport.send(formatSyslog(line, format));
      } catch (error) {
        health.fail(error as Error);
      }
    },
    end: close,
    close,
    get dropped() {
      return transport.dropped;
    },
  };
}
