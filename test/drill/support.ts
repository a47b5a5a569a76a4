// Shared by the drill's test files (which the suite runs two at a time, each in its own mocha worker): the small
// scale every drill test runs at, and the check after each test that nothing its worker started outlives it.
import { strict as assert } from "assert";
import { DrillOptions } from "../../drill/run";
import { describeProcesses, ownedProcesses } from "../../local/processes";

/** The drill's log lines of this test file's worker, for a failure message. */
export const lines: string[] = [];

export const SMALL = { stack: "primary", rate: 50, durationSeconds: 5, replicationLagSeconds: 1, timeScale: 90, log: (l: string) => lines.push(l) } satisfies Partial<DrillOptions>;

/** Call in a describe() body: after each test, no process this worker started may be left. */
export function assertNothingLeftAfterEach(): void {
    afterEach(() => {
        // Killing a server waits until nothing it started is left (local/processes.ts), so there is
        // no grace here: whatever still runs now was left behind. ownedProcesses() finds every process
        // this test process started and what those started (archive and restore commands included),
        // and nobody else's (each mocha worker tags its own).
        const left = ownedProcesses();
        assert.deepEqual(left, [], `processes left behind:\n${describeProcesses(left)}\n${lines.slice(-20).join("\n")}`);
    });
}
