// Why this exists: a wall-clock timeout measures the machine's load as much as the test. `npm test`
// (tools/testAll.ts) runs the suites without servers in the background at the lowest CPU priority, beside the
// server suites; there they get only the CPU nobody else wants, and any other load on the machine can stretch
// a 35-second promtool run past its 120-second timeout (seen in a fresh-clone run with a second niced job
// beside it). So a suite run in the background gets its timeouts multiplied by DRSTACK_TEST_TIMEOUT_SCALE:
// they still end a real hang, but no longer fail a test that is merely waiting for the CPU. Every timeout of
// those suites goes through `testTimeout`, and mocha's default (`.mocharc.json`) is scaled by tools/testAll.ts through `--timeout`.

/** The environment variable tools/testAll.ts sets for the suites it runs in the background. */
export const TIMEOUT_SCALE_ENV = "DRSTACK_TEST_TIMEOUT_SCALE";

/** The factor from the environment: 1 when unset; a clear error naming the variable when malformed. */
export function timeoutScale(env: NodeJS.ProcessEnv = process.env): number {
    const raw = env[TIMEOUT_SCALE_ENV];
    if (raw === undefined || raw === "") return 1;
    const scale = Number(raw);
    if (!Number.isFinite(scale) || scale < 1) {
        throw new Error(`${TIMEOUT_SCALE_ENV}="${raw}": expected a number of at least 1 (the factor for every test timeout), or unset for 1`);
    }
    return scale;
}

/** `ms` as this run's timeout: multiplied by the background factor, if any. */
export function testTimeout(ms: number, env: NodeJS.ProcessEnv = process.env): number {
    return Math.round(ms * timeoutScale(env));
}
