import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { base32Decode } from '../modules/methods/oath/base32.js';
import { totp, type OathAlgorithm } from '../modules/methods/oath/otp.js';
import { lineReader } from '../shared/lines.js';
import { AuthenticatorClient, parseActivation, ServerError, type DeviceIdentity, type PushView } from './client.js';
import { readDevices, writeDevices } from './store.js';

/**
 * `countersign-authenticator`: a reference authenticator app for the
 * terminal. It activates like a phone app, keeps its keys in a file with
 * mode 0600, waits for pushes and answers them, and shows OATH codes.
 */
interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

function pick(devices: DeviceIdentity[], account: string | undefined): DeviceIdentity {
  if (devices.length === 0) throw new UsageError('no device is activated yet: run `countersign-authenticator activate <uri>`');
  if (account === undefined) {
    if (devices.length === 1) return devices[0]!;
    throw new UsageError(`several accounts: give --account (${devices.map((device) => device.account).join(', ')})`);
  }
  const found = devices.filter((device) => device.account === account || device.deviceId === account);
  if (found.length !== 1) throw new UsageError(`no single device for account ${account}`);
  return found[0]!;
}

export async function runAuthenticator(argv: string[], io: Io): Promise<number> {
  const program = new Command('countersign-authenticator')
    .description('a reference authenticator app for Countersign (docs/authenticator-protocol.md)')
    .option('--file <path>', 'where the device keys are kept (mode 0600)', io.env.COUNTERSIGN_AUTHENTICATOR_FILE ?? join(homedir(), '.countersign-authenticator.json'))
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  const file = () => program.opts<{ file: string }>().file;
  /** Saves the identity again when the client changed it (a corrected clock offset). */
  const save = (client: AuthenticatorClient) => {
    const devices = readDevices(file());
    writeDevices(file(), devices.map((device) => (device.deviceId === client.identity.deviceId ? client.identity : device)));
  };

  program
    .command('activate <uri-or-url> [code]')
    .description('activate with the countersign://activate URI, or the server URL and the code')
    .option('--name <name>', 'the device name the administrator sees', hostname().slice(0, 64) || 'terminal')
    .option('--type <type>', 'the device type', 'cli')
    .option('--push-token <token>', "the push service's token for this device")
    .action(async (uriOrUrl: string, code: string | undefined, flags: { name: string; type: string; pushToken?: string }) => {
      const activation = parseActivation(uriOrUrl, code);
      const devices = readDevices(file());
      const client = await AuthenticatorClient.activate(activation.url, activation.code, { name: flags.name, type: flags.type, appVersion: '1.0.0', osVersion: `${process.platform} ${process.version}`, pushToken: flags.pushToken });
      writeDevices(file(), [...devices, client.identity]);
      io.stdout.write(`activated ${client.identity.account} on ${client.identity.url} (device ${client.identity.deviceId})\n`);
      io.stdout.write(`OATH codes: ${client.identity.oath ? 'yes (countersign-authenticator code)' : 'no'}\n`);
    });

  program
    .command('add-device')
    .description('an activation code for another device of the account (activate the other device with it)')
    .option('--account <name>', 'the account (or device id) when several are activated')
    .action(async (flags: { account?: string }) => {
      const client = new AuthenticatorClient(pick(readDevices(file()), flags.account));
      const activation = await client.newActivation();
      io.stdout.write(`code ${activation.code} for ${activation.url}, until ${activation.expires_at}\n${activation.uri}\n`);
    });

  program
    .command('devices')
    .description('the accounts this authenticator holds, and how the server sees each device')
    .action(async () => {
      for (const identity of readDevices(file())) {
        let status: string;
        try {
          const device = await new AuthenticatorClient(identity).device();
          status = `${String(device.status)}, named "${String(device.name)}"`;
        } catch (error) {
          status = error instanceof ServerError ? `refused (${error.code})` : `unreachable (${(error as Error).message})`;
        }
        io.stdout.write(`${identity.account}  ${identity.url}  device ${identity.deviceId}  ${status}\n`);
      }
    });

  program
    .command('code')
    .description('the current OATH code of the account')
    .option('--account <name>', 'the account (or device id) when several are activated')
    .action(async (flags: { account?: string }) => {
      const identity = pick(readDevices(file()), flags.account);
      if (!identity.oath) throw new UsageError(`${identity.account} has no OATH secret (activated without one)`);
      const secret = base32Decode(identity.oath.secret);
      if (!secret) throw new UsageError('the stored OATH secret is damaged');
      const code = totp({ secret, algorithm: identity.oath.algorithm as OathAlgorithm, digits: identity.oath.digits as 6 | 8 }, Date.now() + identity.clockOffsetMs, identity.oath.period);
      io.stdout.write(`${code}\n`);
    });

  program
    .command('watch')
    .description('wait for pushes and answer them: the number from the sign-in screen, the PIN when asked, then approve, deny or fraud')
    .option('--account <name>', 'the account (or device id) when several are activated')
    .option('--once', 'stop after answering one push')
    .option('--wait <seconds>', 'how long each long poll waits (1-60)', '25')
    .action(async (flags: { account?: string; once?: boolean; wait: string }) => {
      const wait = Number(flags.wait);
      if (!Number.isInteger(wait) || wait < 1 || wait > 60) throw new UsageError('--wait: a whole number of seconds from 1 to 60');
      const client = new AuthenticatorClient(pick(readDevices(file()), flags.account));
      const lines = lineReader(io.stdin);
      const ask = async (prompt: string): Promise<string> => {
        io.stdout.write(`${prompt}: `);
        const line = await lines.next();
        if (line === null) throw new UsageError('standard input ended before an answer');
        return line.trim();
      };
      const offset = client.identity.clockOffsetMs;
      io.stdout.write(`watching for pushes to ${client.identity.account}\n`);
      try {
        for (;;) {
          const pushes: PushView[] = await client.pushes(wait);
          if (client.identity.clockOffsetMs !== offset) save(client);
          for (const push of pushes) {
            const where = push.location ? ` (${push.location})` : '';
            io.stdout.write(`push: ${push.application} from ${push.ip ?? 'an unknown address'}${where} at ${push.created_at}\n`);
            const number = push.number_matching ? await ask('number shown on the sign-in screen') : undefined;
            const pin = push.pin ? await ask('PIN') : undefined;
            const newPin = push.pin_change ? await ask('new PIN (yours has expired)') : undefined;
            let decision = '';
            while (!['approve', 'deny', 'fraud'].includes(decision)) decision = (await ask('approve, deny or fraud')).toLowerCase();
            const answer = await client.answer(push.txid, { decision: decision as 'approve', ...(number ? { number } : {}), ...(pin ? { pin } : {}), ...(newPin ? { new_pin: newPin } : {}) });
            io.stdout.write(`${answer.result}: ${answer.result_code ?? answer.status_msg}\n`);
            if (flags.once) return;
          }
        }
      } finally {
        lines.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof ServerError ? `${error.message} (${error.code})` : (error as Error).message;
    io.stderr.write(`countersign-authenticator: error: ${message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
