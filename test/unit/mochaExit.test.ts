// Every mocha suite ends once its last test is done, whatever its event loop still holds (`"exit": true` in
// .mocharc.json). tools/testAll.ts says why: a Node 20 process whose event loop drains by itself can spin in
// its exit cleanup forever, as the drill suite did after "18 passing"; process.exit() does not take that path.
// Shown with real mocha and the repository's own config on a test that leaves a listening server open.

import { strict as assert } from "assert";
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as path from "path";
import { mochaFixture, REPO_ROOT } from "../support/mochaFixture";
import { testTimeout } from "../support/timeouts";

/** A test that passes and leaves a listening TCP server behind: a handle that keeps Node's event loop alive. */
const LEAVES_A_SERVER_OPEN = `
const net = require("net");
it("passes and leaves a server listening", (done) => {
    net.createServer().listen(0, "127.0.0.1", () => done());
});
`;

/** Runs mocha to its end, killed after `timeoutMs` if it has not ended by then. */
function mochaRun(extraArgs: string[], timeoutMs: number): SpawnSyncReturns<string> {
    const { args, remove } = mochaFixture(LEAVES_A_SERVER_OPEN, { extraArgs });
    try {
        return spawnSync(process.execPath, args, { encoding: "utf8", cwd: REPO_ROOT, timeout: timeoutMs, killSignal: "SIGKILL" });
    } finally {
        remove();
    }
}

/**
 * Starts mocha, waits (up to `summaryWaitMs`) for its summary, then `graceMs` more; resolves with whether it was
 * still running then (it is killed either way) and what it printed.
 */
function runningAfterSummary(extraArgs: string[], summaryWaitMs: number, graceMs: number): Promise<{ running: boolean; output: string }> {
    const { args, remove } = mochaFixture(LEAVES_A_SERVER_OPEN, { extraArgs });
    const run = new Promise<{ running: boolean; output: string }>((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        let exited = false;
        let graceTimer: NodeJS.Timeout | undefined;
        const collect = (d: Buffer) => {
            output += d.toString("utf8");
            if (/1 passing/.test(output) && !graceTimer) graceTimer = setTimeout(finish, graceMs);
        };
        const summaryTimer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`mocha printed no summary within ${summaryWaitMs} ms:\n${output}`));
        }, summaryWaitMs);
        function finish() {
            clearTimeout(summaryTimer);
            const running = !exited;
            child.kill("SIGKILL");
            resolve({ running, output });
        }
        child.stdout.on("data", collect);
        child.stderr.on("data", collect);
        child.on("exit", () => {
            exited = true;
        });
    });
    return run.finally(remove);
}

describe("mocha suites exit when their tests are done (.mocharc.json)", function () {
    this.timeout(testTimeout(60000));

    it("a passing run ends, with exit code 0, although a test left a server listening", function () {
        const r = mochaRun([], testTimeout(30000));
        assert.equal(r.signal, null, `mocha did not exit on its own within the wait (killed by ${r.signal}):\n${r.stdout}${r.stderr}`);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /1 passing/);
    });

    it("the same run without the config's exit option does not end: the open server holds it", async function () {
        // The control: shows the fixture really keeps the event loop alive, so the test above proves the option.
        // With the option, mocha exits right after its summary; without it, it is still running 3 s later.
        const r = await runningAfterSummary(["--no-exit"], testTimeout(30000), 3000);
        assert.equal(r.running, true, `mocha without exit ended within 3 s of its summary:\n${r.output}`);
    });
});
