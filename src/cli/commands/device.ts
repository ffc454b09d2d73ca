import { Command } from 'commander';
import { runningServerUrl } from '../server-file.js';
import QRCode from 'qrcode';
import type { DeviceView } from '../../modules/methods/app/devices.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';
import { reasonOf } from '../options.js';

function printDevice(io: CliIo, json: boolean | undefined, device: DeviceView): void {
  if (json) return printJson(io, device);
  io.stdout.write(
    details([
      ['id', device.id],
      ['user', device.username],
      ['name', device.name],
      ['type', device.type],
      ['status', device.blocked_reason ? `${device.status} (${device.blocked_reason})` : device.status],
      ['missed pushes', String(device.missed_pushes)],
      ['app version', device.app_version],
      ['OS version', device.os_version],
      ['OATH secret', device.oath_token ? 'yes' : 'no'],
      ['last seen', device.last_seen_at],
    ]),
  );
}

/** `countersign device`: users' authenticator apps: activation codes, and the devices activated with them. */
export function deviceCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const device = new Command('device').description("users' authenticator apps: activation codes and devices (docs/authenticator-protocol.md)");

  device
    .command('activation <username>')
    .description('make a one-time activation code for a new authenticator app of the user (shown once)')
    .option('--url <url>', 'the server URL the app should use (default: app.publicUrl, else the address of the server running on this data folder, else http.host and http.port)')
    .option('--no-oath', 'do not give the app an OATH secret for offline codes')
    .action(async (username: string, flags: { url?: string; oath: boolean }) => {
      if (flags.url !== undefined && !/^https?:\/\/[^\s/]+/.test(flags.url)) throw appError('validation_failed', '--url: must be an http:// or https:// URL', { field: 'url' });
      const { activation, qr } = await withRuntime(io, globals(), async (runtime) => {
        const url = flags.url ?? runningServerUrl(runtime.config.dataDir) ?? `http://${runtime.config.http.host}:${runtime.config.http.port}`;
        const made = await runtime.appDevices.createActivation(username, { url, oath: flags.oath }, cliActor());
        const picture = globals().json ? null : await QRCode.toString(made.uri, io.stdout.isTTY ? { type: 'terminal', small: true } : { type: 'utf8', margin: 2 });
        return { activation: made, qr: picture };
      });
      if (globals().json) return printJson(io, activation);
      io.stdout.write(`${qr ?? ''}\n`);
      io.stdout.write(details([
        ['user', activation.username],
        ['code', activation.code],
        ['server', activation.url],
        ['uri', activation.uri],
        ['OATH secret', activation.oath ? 'yes' : 'no'],
        ['expires', activation.expires_at],
      ]));
    });

  device
    .command('list <username>')
    .description("the user's authenticator devices")
    .action(async (username: string) => {
      const devices = await withRuntime(io, globals(), (runtime) => runtime.appDevices.list(username));
      if (globals().json) return printJson(io, devices);
      io.stdout.write(table(['id', 'name', 'type', 'status', 'missed', 'last seen'], devices.map((item) => [item.id, item.name, item.type, item.status, String(item.missed_pushes), item.last_seen_at])));
    });

  device
    .command('activations <username>')
    .description("the user's activation records (SPEC.md §5), newest first")
    .action(async (username: string) => {
      const records = await withRuntime(io, globals(), (runtime) => runtime.appDevices.activations(username));
      if (globals().json) return printJson(io, records);
      io.stdout.write(
        table(
          ['time', 'code', 'success', 'error', 'device', 'type', 'OATH'],
          records.map((record) => [
            record.at,
            record.get_activation_code_result,
            record.activation_success === null ? null : record.activation_success ? 'yes' : 'no',
            record.activation_error,
            record.device_name,
            record.device_type,
            record.oath_token_enabled ? 'yes' : 'no',
          ]),
        ),
      );
    });

  device
    .command('rename <username> <id> <name>')
    .description('rename a device')
    .action(async (username: string, id: string, name: string) => {
      printDevice(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.appDevices.rename(username, id, name, cliActor())));
    });

  device
    .command('block <username> <id>')
    .description('block a device: no pushes go to it, and its requests are refused')
    .option('--reason <text>', 'why (recorded)')
    .action(async (username: string, id: string, flags: { reason?: string }) => {
      const reason = reasonOf(flags.reason);
      printDevice(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.appDevices.block(username, id, reason, cliActor())));
    });

  device
    .command('unblock <username> <id>')
    .description('unblock a device (its missed pushes start again from zero)')
    .action(async (username: string, id: string) => {
      printDevice(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.appDevices.unblock(username, id, cliActor())));
    });

  device
    .command('delete <username> <id>')
    .description('delete a device and the OATH secret it was given')
    .action(async (username: string, id: string) => {
      await withRuntime(io, globals(), (runtime) => runtime.appDevices.delete(username, id, cliActor()));
      if (globals().json) return printJson(io, { deleted: id });
      io.stdout.write(`deleted device ${id}\n`);
    });

  return device;
}
