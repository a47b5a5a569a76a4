// The one cleanup mechanism (local/teardown.ts): steps run newest first, each once, all of them
// even when one fails; scopes nest and leave their parent once run; and the process-wide stack
// runs on SIGTERM (then exits 143) and, synchronously, at exit.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Teardown } from "../../local/teardown";
import { testTimeout } from "../support/timeouts";

const REPO = path.resolve(__dirname, "../..");

/** Runs a TypeScript snippet in a fresh Node process with the repo's ts-node. */
function runScript(body: string, signalAfterMs?: number): { status: number | null; stderr: string } {
    const script = [
        `const { processTeardown } = require(${JSON.stringify(path.join(REPO, "local/teardown"))});`,
        body,
        signalAfterMs === undefined ? "" : `setTimeout(() => process.kill(process.pid, "SIGTERM"), ${signalAfterMs}); setTimeout(() => undefined, 10000);`,
    ].join("\n");
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: REPO, encoding: "utf8", timeout: testTimeout(30000) });
    return { status: r.status, stderr: r.stderr };
}

describe("teardown stack", () => {
    it("runs every step newest first, once, and all of them when one fails, then names the failure", async () => {
        const t = new Teardown("test");
        const ran: string[] = [];
        t.add("first", () => ran.push("first"));
        t.add("broken", () => {
            throw new Error("disk on fire");
        });
        t.add("third", async () => {
            await new Promise((r) => setTimeout(r, 5));
            ran.push("third");
        });
        await assert.rejects(t.runAll(), /cleanup of test: 1 step\(s\) failed:\n- broken: disk on fire/);
        assert.deepEqual(ran, ["third", "first"]);
        await assert.rejects(t.runAll(), /disk on fire/, "the same outcome on every call");
        assert.deepEqual(ran, ["third", "first"], "nothing runs twice");
    });

    it("runs a released step never, and a step added after the run at once", async () => {
        const t = new Teardown("test");
        const ran: string[] = [];
        t.add("kept", () => ran.push("kept"));
        t.add("released", () => ran.push("released")).release();
        await t.runAll();
        t.add("late", () => ran.push("late"));
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(ran, ["kept", "late"]);
    });

    it("runs a scope's steps with its parent, or on its own, and then leaves the parent", async () => {
        const parent = new Teardown("parent");
        const ran: string[] = [];
        parent.add("parent step", () => ran.push("parent step"));
        const early = parent.scope("early");
        early.add("early step", () => ran.push("early step"));
        const done = parent.scope("done");
        done.add("done step", () => ran.push("done step"));
        await done.runAll();
        assert.equal(parent.size, 2, "a scope that ran is off its parent");
        await parent.runAll();
        assert.deepEqual(ran, ["done step", "early step", "parent step"]);
        assert.match(early.name, /^parent > early$/);
    });

    it("around() runs the body, then the stack, and keeps the body's error", async () => {
        const t = new Teardown("test");
        const ran: string[] = [];
        t.add("step", () => ran.push("step"));
        await assert.rejects(
            t.around(async () => {
                throw new Error("body failed");
            }),
            /^Error: body failed$/,
        );
        assert.deepEqual(ran, ["step"]);
    });

    it("the process-wide stack runs on SIGTERM, awaiting each step, then exits 143", function () {
        this.timeout(testTimeout(30000));
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "teardown-")), "ran");
        const r = runScript(
            `processTeardown.add("first", () => require("fs").appendFileSync(${JSON.stringify(out)}, "first\\n"));
             processTeardown.add("slow", async () => { await new Promise((r) => setTimeout(r, 200)); require("fs").appendFileSync(${JSON.stringify(out)}, "slow\\n"); });`,
            100,
        );
        assert.equal(r.status, 143, r.stderr);
        assert.match(r.stderr, /SIGTERM: stopping everything this process started/);
        assert.equal(fs.readFileSync(out, "utf8"), "slow\nfirst\n");
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
    });

    it("the process-wide stack runs, synchronously, when the process exits on an uncaught error", function () {
        this.timeout(testTimeout(30000));
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "teardown-")), "ran");
        const r = runScript(
            `processTeardown.add("sync", () => require("fs").appendFileSync(${JSON.stringify(out)}, "sync\\n"));
             processTeardown.add("async", async () => { require("fs").appendFileSync(${JSON.stringify(out)}, "before await\\n"); await null; require("fs").appendFileSync(${JSON.stringify(out)}, "after await\\n"); });
             setTimeout(() => { throw new Error("crash"); }, 10);`,
        );
        assert.equal(r.status, 1, r.stderr);
        assert.equal(fs.readFileSync(out, "utf8"), "before await\nsync\n", "each step up to its first await, newest first");
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
    });
});
