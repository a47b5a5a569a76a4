// The DR drill at small scale, for real: every scenario passes on the shipped stack, sabotaged
// setups fail with a clear reason, and nothing the drill starts outlives it (not even the
// archive command a SIGKILLed primary was running).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { lostCommits } from "../../drill/accounting";
import { toMarkdown, writeReport } from "../../drill/report";
import { runDrill, SCENARIO_NAMES } from "../../drill/run";
import { drillSettings, Topology } from "../../drill/topology";
import { DrillReport } from "../../drill/types";
import { presentSeqs, TABLE, Workload } from "../../drill/workload";
import { parseConfig, readStackConfig } from "../../config";
import { describeProcesses, ownedProcesses, sleep } from "../../local/processes";

const lines: string[] = [];
const SMALL = { stack: "primary", rate: 50, durationSeconds: 5, replicationLagSeconds: 1, timeScale: 90, log: (l: string) => lines.push(l) };

describe("the DR drill (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(600_000);

    afterEach(() => {
        // Killing a server waits until nothing it started is left (local/processes.ts), so there is
        // no grace here: whatever still runs now was left behind. ownedProcesses() finds every process
        // this test process started and what those started (archive and restore commands included),
        // and nobody else's.
        const left = ownedProcesses();
        assert.deepEqual(left, [], `processes left behind:\n${describeProcesses(left)}\n${lines.slice(-20).join("\n")}`);
    });

    describe("every scenario at small scale on the shipped primary stack", () => {
        let report: DrillReport;
        before(async () => {
            report = await runDrill(SMALL);
        });

        for (const name of SCENARIO_NAMES) {
            it(`${name} passes`, () => {
                const result = report.scenarios.find((s) => s.name === name);
                assert.ok(result, `scenario ${name} did not run`);
                assert.equal(result.status, "PASS", `${name}: ${result.summary}\n${JSON.stringify(result.checks)}`);
                assert.ok(result.steps.length > 0);
                assert.ok(result.checks.every((c) => c.ok));
            });
        }

        it("measures what each scenario promises", () => {
            const by = (n: string) => report.scenarios.find((s) => s.name === n)!;
            assert.ok(by("region-loss").rpo!.acknowledgedCommits > 0);
            assert.ok(by("region-loss").rpo!.measuredSeconds <= by("region-loss").rpo!.target.seconds);
            assert.ok(by("region-loss").rto!.measuredSeconds > 0);
            assert.equal(by("planned-switchover").rpo!.lostCommits, 0);
            const shipping = by("region-loss-log-shipping").rpo!;
            assert.ok(shipping.predictedBoundSeconds! > 0 && shipping.measuredSeconds <= shipping.predictedBoundSeconds!);
            assert.ok(by("accidental-deletion").checks.some((c) => c.name === "every deleted row is back" && c.ok));
            assert.ok(by("storage-outage").checks.some((c) => c.name === "no WAL segment missing afterwards" && c.ok));
        });

        it("writes the report as Markdown, JSON and an SVG timeline", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drill-report-"));
            try {
                const files = writeReport(report, dir);
                const json = JSON.parse(fs.readFileSync(files.json, "utf8")) as DrillReport;
                assert.deepEqual(json.scenarios.map((s) => s.name), SCENARIO_NAMES);
                const md = fs.readFileSync(files.markdown, "utf8");
                for (const s of report.scenarios) assert.ok(md.includes(s.title), s.title);
                assert.ok(fs.readFileSync(files.svg, "utf8").startsWith("<svg"));
                assert.equal(report.status, "PASS", toMarkdown(report));
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    it("reports exactly the acknowledged commits that are missing from a real server", async () => {
        const config = parseConfig(readStackConfig("primary"), "primary");
        const t = await Topology.start(drillSettings("primary", config, SMALL), { standby: false });
        try {
            const start = Date.now();
            const w = await Workload.start(t.target(t.primary), 100, start);
            await sleep(1500);
            await w.stop();
            const withheld = w.acked.filter((_, i) => i % 9 === 4).map((a) => a.seq);
            await t.primary.query(`DELETE FROM ${TABLE} WHERE seq = ANY($1::bigint[])`, [withheld]);
            const loss = lostCommits(w.acked, await presentSeqs(t.target(t.primary)), Date.now() - start);
            assert.ok(withheld.length > 5);
            assert.deepEqual(loss.lost.map((a) => a.seq), withheld);
        } finally {
            await t.cleanup();
        }
    });

    it("a broken archive command makes log-shipping region loss FAIL, naming the archive", async () => {
        const report = await runDrill({ ...SMALL, scenarios: ["region-loss-log-shipping"], sabotage: { archiveCommand: "/bin/false" } });
        const [result] = report.scenarios;
        assert.equal(result.status, "FAIL");
        assert.match(result.summary, /WAL was archived under load: 0 segments archived, [1-9]\d* archive attempts failed/);
        assert.equal(report.status, "FAIL");
    });

    it("a stopped replicator makes log-shipping region loss FAIL, naming the replication", async () => {
        const report = await runDrill({ ...SMALL, scenarios: ["region-loss-log-shipping"], sabotage: { replicator: false } });
        const [result] = report.scenarios;
        assert.equal(result.status, "FAIL");
        assert.match(result.summary, /WAL was replicated to the standby region: 0 objects copied/);
        assert.match(result.summary, /lost \d+ acknowledged commits spanning/);
    });

    it("a scenario that cannot complete is an ERROR with the cause, and still cleans up", async () => {
        const report = await runDrill({ ...SMALL, scenarios: ["storage-outage"], sabotage: { archiveCommand: "/bin/false" }, archiveWaitMs: 5000 });
        const [result] = report.scenarios;
        assert.equal(result.status, "ERROR");
        assert.match(result.summary, /the scenario could not complete: WAL segment [0-9A-F]{24} was not archived within 5000 ms/);
    });
});
