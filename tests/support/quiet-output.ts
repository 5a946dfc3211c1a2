/**
 * Unit, integration and cluster tests run the functions' code in the test process: every request would
 * print its info log lines and its metric lines (EMF, `{"_aws":…}`), burying a failing test's output.
 * Tests provoke failures on purpose, so only errors are printed here, and no metric lines; the suites that check logs and
 * metrics run them through sls offline with both on (tests/e2e/logs.test.ts, tests/support/e2e-setup.ts),
 * and a unit test that checks a line sets its own level (tests/unit/log.test.ts).
 */
process.env.LOG_LEVEL = 'error';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
