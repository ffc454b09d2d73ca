import type { Migration } from '../migrator.js';
import { foundation } from './0001-foundation.js';
import { authentication } from './0002-authentication.js';
import { leanAttemptIndexes } from './0003-lean-attempt-indexes.js';
import { telephony } from './0004-telephony.js';
import { voice } from './0005-voice.js';
import { authenticatorApp } from './0006-authenticator-app.js';
import { signinLog } from './0007-signin-log.js';
import { serverNodes } from './0008-server-nodes.js';
import { conditionalAccess } from './0009-conditional-access.js';
import { signinRollups } from './0010-signin-rollups.js';
import { privacy } from './0011-privacy.js';
import { selfService } from './0012-self-service.js';
import { catalogNotify } from './0013-catalog-notify.js';
import { cluster } from './0014-cluster.js';
import { usernameKeys } from './0015-username-keys.js';
import { ssprNameThrottle } from './0016-sspr-name-throttle.js';

/** Every migration, in order. Add new ones at the end with a higher number. */
export const migrations: Migration[] = [foundation, authentication, leanAttemptIndexes, telephony, voice, authenticatorApp, signinLog, serverNodes, conditionalAccess, signinRollups, privacy, selfService, catalogNotify, cluster, usernameKeys, ssprNameThrottle];
