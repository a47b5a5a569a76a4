// The DR drill's judgement, for real at small scale: sabotaged setups fail (or error) with a clear reason,
// leaving nothing behind. judgement.test.ts has the exact loss accounting and a false alert.
import { strict as assert } from "assert";
import { runDrill } from "../../drill/run";
import { assertNothingLeftAfterEach, SMALL } from "./support";

describe("the DR drill judges sabotaged setups (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(600_000);
    assertNothingLeftAfterEach();

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

    it("a scenario that cannot complete is an ERROR with the cause, and still cleans up", async () => {
        const report = await runDrill({ ...SMALL, scenarios: ["storage-outage"], sabotage: { archiveCommand: "/bin/false" }, archiveWaitMs: 5000 });
        const [result] = report.scenarios;
        assert.equal(result.status, "ERROR");
        assert.match(result.summary, /the scenario could not complete: WAL segment [0-9A-F]{24} was not archived within 5000 ms/);
    });
});
