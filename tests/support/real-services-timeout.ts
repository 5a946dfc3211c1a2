// Real servers on a shared 2-core machine: a generous per-test limit (Jest reads testTimeout only at
// the top level, not per project). Tests assert outcomes, never durations.
jest.setTimeout(60_000);
