import type { CliCommand } from '../command.ts';
import { geographyImport } from './geography-import.ts';

export const commands: Record<string, CliCommand> = {};
commands['geography:import'] = geographyImport;
