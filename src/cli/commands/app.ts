import { Command } from 'commander';
import type { Runtime } from '../../main.js';
import type { ApplicationView } from '../../modules/applications/applications.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

function applicationDetails(application: ApplicationView): [string, string][] {
  return [
    ['name', application.name],
    ['id', application.id],
    ['integration key', application.integration_key],
    ['status', application.enabled ? 'enabled' : 'disabled'],
    ['created', application.created_at],
    ['updated', application.updated_at],
  ];
}

function printApplication(io: CliIo, json: boolean | undefined, application: ApplicationView): void {
  if (json) return printJson(io, application);
  io.stdout.write(details(applicationDetails(application)));
}

/** An application with a secret that is shown this once (create, rotate-secret). */
function printWithSecret(io: CliIo, json: boolean | undefined, result: { application: ApplicationView; secret: string }): void {
  if (json) return printJson(io, result);
  io.stdout.write(details([...applicationDetails(result.application), ['secret', result.secret]]));
  io.stdout.write('Store the secret now: it is not shown again.\n');
}

export function appCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const app = new Command('app').description('manage applications of the Auth API (integration key and secret)');
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);

  app
    .command('create <name>')
    .description('register an application; its secret is printed once')
    .action(async (name: string) => printWithSecret(io, globals().json, await run((runtime) => runtime.applications.create({ name }, cliActor()))));

  app
    .command('list')
    .description('list applications')
    .action(async () => {
      const items = await run((runtime) => runtime.applications.list());
      if (globals().json) return printJson(io, { items });
      io.stdout.write(
        table(
          ['name', 'integration key', 'status', 'created'],
          items.map((item) => [item.name, item.integration_key, item.enabled ? 'enabled' : 'disabled', item.created_at]),
        ),
      );
    });

  app
    .command('get <name>')
    .description('show an application (never its secret)')
    .action(async (name: string) => printApplication(io, globals().json, await run((runtime) => runtime.applications.get(name))));

  app
    .command('update <name>')
    .description('rename, enable or disable an application (only the options given change)')
    .option('--name <new>', 'new name')
    .option('--enable', 'accept requests from the application')
    .option('--disable', 'refuse requests from the application (its integration key and secret stay)')
    .action(async (name: string, flags: { name?: string; enable?: boolean; disable?: boolean }) => {
      if (flags.enable && flags.disable) throw appError('validation_failed', '--enable and --disable exclude each other');
      const enabled = flags.disable ? false : flags.enable ? true : undefined;
      if (flags.name === undefined && enabled === undefined) throw appError('validation_failed', 'nothing to change: give --name, --enable or --disable');
      const { application } = await run((runtime) => runtime.applications.update(name, { name: flags.name, enabled }, cliActor()));
      printApplication(io, globals().json, application);
    });

  app
    .command('rotate-secret <name>')
    .description('issue a new secret (printed once); the old one stops working at once')
    .action(async (name: string) => {
      const { application, secret } = await run((runtime) => runtime.applications.update(name, { rotateSecret: true }, cliActor()));
      printWithSecret(io, globals().json, { application, secret: secret! });
    });

  app
    .command('delete <name>')
    .description('delete an application (records of its sign-ins are kept)')
    .option('--yes', 'confirm the deletion')
    .action(async (name: string, flags: { yes?: boolean }) => {
      if (!flags.yes) throw appError('validation_failed', `deleting application ${name} needs --yes to confirm`);
      await run((runtime) => runtime.applications.delete(name, cliActor()));
      if (globals().json) printJson(io, { deleted: name });
      else io.stdout.write(`deleted application ${name}\n`);
    });

  return app;
}
