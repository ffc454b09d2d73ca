import { isAbsolute, resolve } from 'node:path';
import type { Config } from './schema.js';

/**
 * The service-log file: `log.file` as given when absolute, inside the data
 * folder when relative (the default, `service.log`), none when empty.
 */
export function serviceLogFile(config: Pick<Config, 'dataDir' | 'log'>): string | undefined {
  const file = config.log.file;
  if (file === '') return undefined;
  return isAbsolute(file) ? file : resolve(config.dataDir, file);
}
