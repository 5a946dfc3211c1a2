import { config } from '../lib/config';
import { mongoDb, closeMongo } from '../lib/clients/mongo';
import { MongoUserStore } from '../functions/users/store';
import { UserService } from '../functions/users/service';

/**
 * Seeds the first admin from ADMIN_EMAIL / ADMIN_PASSWORD (ADMIN_NAME optional), idempotently: the
 * only way to get an admin without being one. `npm start` runs it; after a deploy, run it with the
 * deployed stage's MONGODB_URI and JWT_KEYS: `npm run seed:admin`.
 */
export async function seedAdmin(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const email = env.ADMIN_EMAIL;
  const password = env.ADMIN_PASSWORD;
  if (!email || !password) return undefined;
  if (password.length < 8 || password.length > 128) throw new Error('ADMIN_PASSWORD must be 8 to 128 characters');
  const db = mongoDb();
  await MongoUserStore.ensureIndexes(db);
  const users = new UserService(new MongoUserStore(() => db));
  const { created, user } = await users.ensureAdmin({ email, password, name: env.ADMIN_NAME ?? 'Administrator' });
  return `${created ? 'created' : 'kept'} admin ${user.email}`;
}

if (require.main === module) {
  config('mongo');
  seedAdmin()
    .then((result) => console.log(result ?? 'ADMIN_EMAIL and ADMIN_PASSWORD are not both set: nothing to seed'))
    .catch((error: Error) => {
      console.error(`seeding the admin failed: ${error.message}`);
      process.exitCode = 1;
    })
    .finally(() => closeMongo());
}
