import type { Keyring } from '../../../shared/keyring.js';

/** The associated data an OATH secret is sealed under: a sealed seed copied to another token row does not open. */
const context = (tokenId: string) => `oath_token:${tokenId}`;

export const sealOathSecret = (keyring: Keyring, tokenId: string, secret: Buffer): string => keyring.seal(secret, context(tokenId));

export const openOathSecret = (keyring: Keyring, token: { id: string; secret_sealed: string }): Buffer => keyring.open(token.secret_sealed, context(token.id));
