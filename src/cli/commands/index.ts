import type { CliCommand } from '../command.ts';
import { committeeAppoint } from './committee-appoint.ts';
import { committeeCreate } from './committee-create.ts';
import { geographyImport } from './geography-import.ts';
import { tenantCreate } from './tenant-create.ts';
import { tenantList } from './tenant-list.ts';
import { tokenMint } from './token-mint.ts';
import { userCreate } from './user-create.ts';

export const commands: Record<string, CliCommand> = {};
commands['geography:import'] = geographyImport;
commands['tenant:create'] = tenantCreate;
commands['tenant:list'] = tenantList;
commands['user:create'] = userCreate;
commands['committee:create'] = committeeCreate;
commands['committee:appoint'] = committeeAppoint;
commands['token:mint'] = tokenMint;
