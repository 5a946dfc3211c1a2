export default async function teardown(): Promise<void> {
  const moto = globalThis.deployCheck?.moto;
  if (moto && moto.exitCode === null) {
    const exited = new Promise((r) => moto.once('exit', r));
    moto.kill('SIGTERM');
    await exited;
  }
}
