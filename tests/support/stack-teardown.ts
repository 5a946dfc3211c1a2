export default async function teardown(): Promise<void> {
  await globalThis.testStack?.stopOthers?.();
  await globalThis.testStack?.stack.stop();
}
