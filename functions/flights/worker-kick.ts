import { invokeAsync } from '../../lib/clients/lambda';
import { config } from '../../lib/config';
import { kickPayload } from '../../lib/triggers';
import type { WorkerKick } from './migrations';

/** The payload the migration worker accepts besides its schedule's event (lib/triggers.ts). */
export const MIGRATION_WORKER_KICK = 'migration-worker';

/** Starts the migration worker now; its schedule is the fallback. */
export const invokeMigrationWorker: WorkerKick = () => invokeAsync(config('migrations').MIGRATION_WORKER_FUNCTION, kickPayload(MIGRATION_WORKER_KICK));
