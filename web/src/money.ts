/** The web app's money formatting is the emails': one module, lib/money.ts. */
export * from '../../lib/money';
