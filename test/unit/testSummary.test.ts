// The closing summary of `npm test` (tools/testSummary.ts): what CI reads to tell a pass from a failure.

import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { closingLine, cpuLine, mochaCounts, parseCpuSeconds, SuiteOutcome, summaryTable, totals } from "../../tools/testSummary";
import { testTimeout } from "../support/timeouts";

const REPO_ROOT = path.resolve(__dirname, "../..");

/** Runs real mocha (spec reporter, as the suites do) on a throwaway spec file and returns what it printed. */
function realMochaOutput(body: string): { output: string; code: number | null } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-summary-"));
    try {
        const spec = path.join(dir, "sample.test.js");
        fs.writeFileSync(spec, body);
        const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "node_modules/mocha/bin/mocha.js"), "--no-config", "--reporter", "spec", spec], {
            encoding: "utf8",
            cwd: dir,
        });
        return { output: r.stdout + r.stderr, code: r.status };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("npm test summary (tools/testSummary.ts)", function () {
    this.timeout(testTimeout(30000));

    it("reads mocha's own summary of passing, failing and pending tests", function () {
        const run = realMochaOutput(`
            describe("s", () => {
                it("a", () => {}); it("b", () => {}); it("c", () => {});
                it("d", () => { throw new Error("boom"); });
                it.skip("e", () => {});
            });`);
        assert.equal(run.code, 1);
        assert.deepEqual(mochaCounts(run.output), { passed: 3, failed: 1, pending: 1 });
    });

    it("finds no counts in output that is not a mocha summary (tsc, policy check)", function () {
        assert.equal(mochaCounts("Found 2 errors in 1 file.\n"), undefined);
        assert.equal(mochaCounts("primary: 0 mandatory violations\n"), undefined);
    });

    const outcomes: SuiteOutcome[] = [
        { name: "typecheck", script: "typecheck", code: 0, ms: 21900 },
        { name: "unit", script: "test:unit", code: 0, ms: 49100, tests: { passed: 120, failed: 0, pending: 0 } },
        { name: "alerts", script: "test:alerts", code: 1, ms: 22700, tests: { passed: 10, failed: 2, pending: 1 } },
        { name: "policy:check", script: "policy:check", code: 1, ms: 5700 },
        // Died before mocha's summary (e.g. killed): no counts, counted as one failure.
        { name: "drill", script: "test:drill", code: null, ms: 1000 },
    ];

    it("counts tests: mocha's, plus one per suite without a mocha summary", function () {
        assert.deepEqual(totals(outcomes), { passed: 120 + 10 + 1, failed: 2 + 1 + 1, pending: 1 });
    });

    it("counts a mocha run that exits non-zero with no failing test as a failure", function () {
        const crashed: SuiteOutcome = { name: "unit", script: "test:unit", code: 7, ms: 1, tests: { passed: 5, failed: 0, pending: 0 } };
        assert.deepEqual(totals([crashed]), { passed: 5, failed: 1, pending: 0 });
    });

    it("closes with the plain `N passed, N failed[, N skipped]` line", function () {
        assert.equal(closingLine(outcomes), "131 passed, 4 failed, 1 skipped");
        assert.equal(closingLine(outcomes.slice(0, 2)), "121 passed, 0 failed");
    });

    it("tabulates every suite in run order with its result and wall time, then the totals", function () {
        const lines = summaryTable(outcomes, 80000, "test note").split("\n");
        const rows = lines.slice(2, 2 + outcomes.length);
        assert.deepEqual(
            rows.map((r) => r.split(/\s{2,}/)),
            [
                ["typecheck", "typecheck", "ok", "-", "-", "21.9 s"],
                ["unit", "test:unit", "ok", "120/0/0", "-", "49.1 s"],
                ["alerts", "test:alerts", "FAILED", "10/2/1", "-", "22.7 s"],
                ["policy:check", "policy:check", "FAILED", "-", "-", "5.7 s"],
                ["drill", "test:drill", "KILLED", "-", "-", "1.0 s"],
            ],
        );
        assert.ok(lines.includes("total wall time 80.0 s (sum of suite times 100.4 s; test note)"), lines.join("\n"));
        assert.equal(lines[lines.length - 1], "2 of 5 suites passed");
    });

    it("reads GNU time's `%U %S` output, also after its non-zero-exit line, and nothing else", function () {
        assert.equal(parseCpuSeconds("12.34 1.50\n"), 13840);
        assert.equal(parseCpuSeconds("Command exited with non-zero status 1\n3.00 0.25\n"), 3250);
        assert.equal(parseCpuSeconds("Command terminated by signal 9\n"), undefined);
        assert.equal(parseCpuSeconds(""), undefined);
    });

    it("puts each suite's CPU time in the table and the floor it sets on wall time under it, only when all were measured", function () {
        const measured: SuiteOutcome[] = [
            { name: "unit", script: "test:unit", code: 0, ms: 60000, cpuMs: 90000, tests: { passed: 3, failed: 0, pending: 0 } },
            { name: "drill", script: "test:drill", code: 0, ms: 500000, cpuMs: 610000, tests: { passed: 1, failed: 0, pending: 0 } },
        ];
        const lines = summaryTable(measured, 560000, "note", 2).split("\n");
        assert.deepEqual(lines[2].split(/\s{2,}/), ["unit", "test:unit", "ok", "3/0/0", "90.0 s", "60.0 s"]);
        assert.ok(lines.includes("CPU time 700.0 s (user + system, all processes): at least 350.0 s of wall time on 2 cores"), lines.join("\n"));
        assert.equal(cpuLine([measured[0], { ...measured[1], cpuMs: undefined }], 2), undefined);
        assert.ok(!summaryTable(outcomes, 80000, "n", 2).includes("CPU time"));
    });
});
