import { unexpectedConsoleErrors, useBrowser, type UserPage } from '../support/browser';

/**
 * The people of a describe's tests, each in a browser context of their own (tests/support/browser.ts).
 * After each test, whatever it did, their pages threw nothing, logged no unexpected error and asked
 * nothing of another host (the app works offline). Call at the top of a describe.
 */
export function usePeople(): () => Promise<UserPage> {
  const { newUser } = useBrowser();
  const people: UserPage[] = [];
  afterEach(() => {
    for (const user of people.splice(0)) {
      expect(user.errors).toEqual([]);
      expect(unexpectedConsoleErrors(user)).toEqual([]);
      expect(user.foreignRequests).toEqual([]);
    }
  });
  return async () => {
    const user = await newUser();
    people.push(user);
    return user;
  };
}
