import { invokeAsync } from '../../lib/clients/lambda';
import { config } from '../../lib/config';
import type { WorkerKick } from './migrations';

/** Starts the migration worker now; its schedule is the fallback. */
export const invokeMigrationWorker: WorkerKick = () => invokeAsync(config('migrations').MIGRATION_WORKER_FUNCTION, {});
