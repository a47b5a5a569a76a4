// The DR drill's judgement, for real at small scale: it counts exactly the acknowledged commits a
// server lacks, and sabotaged setups fail (or error) with a clear reason, leaving nothing behind.
// Runs after drill.test.ts, not beside it (tools/testAll.ts: the drill suite runs its files one at a time).
import { strict as assert } from "assert";
import { lostCommits } from "../../drill/accounting";
import { runDrill } from "../../drill/run";
import { drillSettings, Topology } from "../../drill/topology";
import { presentSeqs, TABLE, Workload } from "../../drill/workload";
import { parseConfig, readStackConfig } from "../../config";
import { sleep } from "../../local/processes";
import { assertNothingLeftAfterEach, SMALL } from "./support";

describe("the DR drill judges sabotaged setups (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(600_000);
    assertNothingLeftAfterEach();

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
        // Nothing after the standby's base backup reached it: every commit acknowledged under load is lost.
        assert.ok(result.rpo!.lostCommits > 0);
        assert.equal(result.rpo!.lostCommits, result.rpo!.acknowledgedCommits);
    });

    it("an alert firing in a healthy phase makes the scenario FAIL, naming the alert", async () => {
        // No immediate base backup: the emulated plugin then reports 0 (no backup), as the real one does,
        // and DrBaseBackupTooOld fires before S3 goes down: a healthy phase that is not healthy. The phase
        // (20 % of the duration: 12 s) must outlast the rule's for: (10 min scaled 1:90, 6.7 s; it reads only
        // the catalog, so no archive-run floor) and the drill's sampling (3.25 s, drill/scenarios/alerts.ts).
        // A light load (20 commits/s) so the long outage's backlog catches up on a busy machine.
        const report = await runDrill({ ...SMALL, rate: 20, durationSeconds: 60, scenarios: ["storage-outage"], sabotage: { immediateBackup: false } });
        const [result] = report.scenarios;
        assert.equal(result.status, "FAIL", result.summary);
        assert.match(result.summary, /DrBaseBackupTooOld fired during a healthy phase \(at \+\d+\.\d s\)/);
        const falseAlert = result.alerts!.firings.find((f) => f.alert === "DrBaseBackupTooOld" && f.inHealthyPhase);
        assert.ok(falseAlert, JSON.stringify(result.alerts));
        // The outage itself was handled: the FAIL comes from the alert alone.
        assert.ok(result.checks.every((c) => c.ok), JSON.stringify(result.checks));
    });

    it("a scenario that cannot complete is an ERROR with the cause, and still cleans up", async () => {
        const report = await runDrill({ ...SMALL, scenarios: ["storage-outage"], sabotage: { archiveCommand: "/bin/false" }, archiveWaitMs: 5000 });
        const [result] = report.scenarios;
        assert.equal(result.status, "ERROR");
        assert.match(result.summary, /the scenario could not complete: WAL segment [0-9A-F]{24} was not archived within 5000 ms/);
    });
});
