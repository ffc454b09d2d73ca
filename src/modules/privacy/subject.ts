import type { Executor } from '../../storage/database.js';
import { privacyRepository, type SubjectKeys } from '../../storage/repositories/privacy-requests.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { UserRow } from '../../storage/schema.js';
import { usernameKey } from '../directory/user-input.js';

/**
 * The person a privacy request is about, found from the username the request
 * names: the user who has that name now, and users who had it before and were
 * deleted (their records outlive an ordinary delete until retention or this
 * request removes them). Records name a user by id, or, for a name that
 * matched no user (a typo, an unknown account), only by the name typed.
 */
export interface Subject extends SubjectKeys {
  /** The name as the request gave it. */
  username: string;
  /** The user who has the name now, if any. */
  user: UserRow | null;
  /** That user's id and the ids of deleted users who had the name. */
  userIds: string[];
  /** Every name those users had (renames), and the one asked. */
  usernames: string[];
  /** The users' phone numbers, E.164, now and in their change records: the telephony log holds them without a user for unknown senders. */
  phones: string[];
  /** The user's e-mail addresses (profile, password reset): the mail log holds them. */
  emails: string[];
}

const e164 = (countryCode: string | null, number: string | null) => (countryCode && number ? `+${countryCode}${number}` : null);

export async function findSubject(db: Executor, username: string): Promise<Subject> {
  const asked = username.trim();
  const user = (await usersRepository.findByKey(db, usernameKey(asked))) ?? null;
  // Change records keep the names users had; a user's create record names it even after a delete.
  const named = await privacyRepository.userIdsNamed(db, asked);
  const userIds = [...new Set([...(user ? [user.id] : []), ...named])];
  const usernames = new Set([asked]);
  const phones = new Set<string>();
  if (user) {
    usernames.add(user.username);
    for (const phone of [e164(user.phone_country_code, user.phone_number), e164(user.backup_country_code, user.backup_phone_number)]) if (phone) phones.add(phone);
  }
  if (userIds.length > 0) {
    const history = await privacyRepository.changeHistory(db, userIds);
    for (const row of history) {
      usernames.add(row.username);
      for (const phone of [e164(row.new_country_code, row.new_phone_number), e164(row.new_backup_country_code, row.new_backup_phone_number)]) if (phone) phones.add(phone);
    }
  }
  const emails = [user?.email, user?.sspr_email].filter((email): email is string => typeof email === 'string');
  return { username: asked, user, userIds, usernames: [...usernames], phones: [...phones], emails };
}
