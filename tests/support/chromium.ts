/**
 * Debian's chromium (the bootstrap installs it; CHROMIUM_PATH elsewhere) as the web tests and the
 * Lighthouse benchmark launch it with playwright-core: no browser download.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** No sandbox (containers), no GPU, and nothing that reaches for the network by itself: this machine has none. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
