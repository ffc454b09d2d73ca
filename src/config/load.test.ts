import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys, loadConfig } from './load.js';

const tempFile = (content: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-config-')), 'config.json');
  writeFileSync(path, content);
  return path;
};

describe('config', () => {
  it('has a default for every key', () => {
    const config = loadConfig();
    expect(config.http.port).toBe(8080);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.database.url).toBe('');
    expect(config.log.userChanges).toBe(true);
  });

  it('reads COUNTERSIGN_* variables with their types', () => {
    const config = loadConfig({ env: { COUNTERSIGN_HTTP_PORT: '9000', COUNTERSIGN_LOG_USER_CHANGES: 'false', COUNTERSIGN_DATABASE_URL: 'postgres://127.0.0.1/test' } });
    expect(config.http.port).toBe(9000);
    expect(config.log.userChanges).toBe(false);
    expect(config.database.url).toBe('postgres://127.0.0.1/test');
  });

  it('lets the environment win over the file, and overrides win over both', () => {
    const file = tempFile(JSON.stringify({ http: { port: 7000, host: '127.0.0.2' } }));
    const config = loadConfig({ file, env: { COUNTERSIGN_HTTP_PORT: '7001' }, overrides: { http: { host: '127.0.0.3' } } });
    expect(config.http).toMatchObject({ port: 7001, host: '127.0.0.3' });
  });

  it('rejects an unknown environment variable by name', () => {
    expect(() => loadConfig({ env: { COUNTERSIGN_HTTP_PROT: '1' } })).toThrow('COUNTERSIGN_HTTP_PROT: unknown configuration variable');
  });

  it("leaves the reference authenticator's variables to it (COUNTERSIGN_AUTHENTICATOR_*)", () => {
    expect(() => loadConfig({ env: { COUNTERSIGN_AUTHENTICATOR_FILE: '/tmp/keys.json' } })).not.toThrow();
  });

  it('rejects an unknown key in the file by its path', () => {
    expect(() => loadConfig({ file: tempFile(JSON.stringify({ http: { prot: 1 } })) })).toThrow('config key http.prot: unknown key');
  });

  it('names the key of a bad value', () => {
    expect(() => loadConfig({ env: { COUNTERSIGN_HTTP_PORT: 'eighty' } })).toThrow('COUNTERSIGN_HTTP_PORT: expected a whole number');
    expect(() => loadConfig({ env: { COUNTERSIGN_HTTP_PORT: '70000' } })).toThrow('config key http.port');
    expect(() => loadConfig({ env: { COUNTERSIGN_LOG_LEVEL: 'loud' } })).toThrow('config key log.level');
    expect(() => loadConfig({ env: { COUNTERSIGN_DATABASE_URL: 'mysql://x' } })).toThrow('config key database.url');
    expect(() => loadConfig({ env: { COUNTERSIGN_METRICS_ENABLED: 'maybe' } })).toThrow('COUNTERSIGN_METRICS_ENABLED: expected true or false');
    expect(() => loadConfig({ env: { COUNTERSIGN_QUESTIONS_ASK_COUNT: '4' } })).toThrow('config key questions.askCount: must not exceed questions.registerCount');
  });

  it('reports an unreadable or invalid file clearly', () => {
    expect(() => loadConfig({ file: '/nonexistent/countersign.json' })).toThrow('cannot read config file (ENOENT)');
    expect(() => loadConfig({ file: tempFile('{ nope') })).toThrow('config file is not valid JSON');
    expect(() => loadConfig({ file: tempFile('[1]') })).toThrow('config file must hold a JSON object');
  });

  it('is frozen after load', () => {
    const config = loadConfig();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow();
  });

  it('is documented key by key in docs/configuration.md', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of configKeys()) {
      expect(doc, key.path.join('.')).toContain(`\`${key.path.join('.')}\``);
      expect(doc, key.env).toContain(`\`${key.env}\``);
    }
  });
});
