// Every mocha suite ends once its last test is done, whatever its event loop still holds (`"exit": true` in
// .mocharc.json). tools/testAll.ts says why: a Node 20 process whose event loop drains by itself can spin in
// its exit cleanup forever, as the drill suite did after "18 passing"; process.exit() does not take that path.
// Shown with real mocha and the repository's own config on a test that leaves a listening server open.

import { strict as assert } from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { testTimeout } from "../support/timeouts";

const REPO_ROOT = path.resolve(__dirname, "../..");

/** A test that passes and leaves a listening TCP server behind: a handle that keeps Node's event loop alive. */
const LEAVES_A_SERVER_OPEN = `
const net = require("net");
it("passes and leaves a server listening", (done) => {
    net.createServer().listen(0, "127.0.0.1", () => done());
});
`;

/** Runs real mocha with the repository's .mocharc.json (from the repository root, as npm test does). */
function mochaWithRepoConfig(extraArgs: string[], timeoutMs: number): SpawnSyncReturns<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-mocha-exit-"));
    try {
        const spec = path.join(dir, "leaves-open.test.js");
        fs.writeFileSync(spec, LEAVES_A_SERVER_OPEN);
        return spawnSync(process.execPath, [path.join(REPO_ROOT, "node_modules/mocha/bin/mocha.js"), "--config", path.join(REPO_ROOT, ".mocharc.json"), ...extraArgs, spec], {
            encoding: "utf8",
            cwd: REPO_ROOT,
            timeout: timeoutMs,
            killSignal: "SIGKILL",
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("mocha suites exit when their tests are done (.mocharc.json)", function () {
    this.timeout(testTimeout(60000));

    it("a passing run ends, with exit code 0, although a test left a server listening", function () {
        const r = mochaWithRepoConfig([], testTimeout(30000));
        assert.equal(r.signal, null, `mocha did not exit on its own within the wait (killed by ${r.signal}):\n${r.stdout}${r.stderr}`);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /1 passing/);
    });

    it("the same run without the config's exit option does not end: the open server holds it", function () {
        // The control: shows the fixture really keeps the event loop alive, so the test above proves the option.
        const r = mochaWithRepoConfig(["--no-exit"], 8000);
        assert.match(r.stdout, /1 passing/, r.stdout + r.stderr);
        assert.equal(r.signal, "SIGKILL", `expected mocha still running when killed after 8 s; it exited with ${r.status}`);
    });
});
