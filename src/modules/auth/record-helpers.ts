import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import type { UserRow } from '../../storage/schema.js';
import type { Page } from '../directory/directory.js';
import { formatPhone } from '../directory/phone.js';

/** The phone columns block and bypass records share (SPEC.md §5). */
export interface PhoneRecordFields {
  country_code: string | null;
  phone_number: string | null;
  formatted_phone_number: string | null;
  extension: string | null;
  new_extension: string | null;
}

/** Milliseconds to an ISO time, keeping null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The phone columns of block and bypass records (SPEC.md §5): the user's primary phone when the record was made. */
export function phoneSnapshot(user: UserRow): PhoneRecordFields {
  const phone = user.phone_country_code && user.phone_number ? { countryCode: user.phone_country_code, number: user.phone_number } : null;
  return {
    country_code: user.phone_country_code,
    phone_number: user.phone_number,
    formatted_phone_number: phone ? formatPhone(phone) : null,
    extension: user.phone_extension,
    new_extension: null,
  };
}

/** One page of a history newest first, continued below the last id seen. */
export async function historyPage<Row extends { id: number }, View>(
  options: { cursor?: string; limit?: number },
  load: (beforeId: number | undefined, limit: number) => Promise<Row[]>,
  view: (row: Row) => View,
): Promise<Page<View>> {
  const limit = options.limit ?? 100;
  const beforeId = options.cursor === undefined ? undefined : decodeCursor<number>(options.cursor, 'number');
  const rows = await load(beforeId, limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map(view), next_cursor: rows.length > limit ? encodeCursor(Number(page[page.length - 1]!.id)) : null };
}
