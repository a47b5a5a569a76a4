// The DR drill's judgement, for real at small scale: it counts exactly the acknowledged commits a server
// lacks, and an alert that fires while a scenario is healthy fails it, naming the alert. sabotage.test.ts has
// the broken archive, the stopped replicator and the scenario that cannot complete.
import { strict as assert } from "assert";
import { lostCommits } from "../../drill/accounting";
import { runDrill } from "../../drill/run";
import { drillSettings, Topology } from "../../drill/topology";
import { presentSeqs, TABLE, Workload } from "../../drill/workload";
import { parseConfig, readStackConfig } from "../../config";
import { sleep } from "../../local/processes";
import { assertNothingLeftAfterEach, SMALL } from "./support";

describe("the DR drill's judgement (real PostgreSQL, barman-cloud, moto_server)", function () {
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

    it("an alert firing in a healthy phase makes the scenario FAIL, naming the alert", async () => {
        // Sabotage: the emulated Barman Cloud plugin reports no backup although backup-verification took one, so
        // DrBaseBackupTooOld fires while the scenario is healthy. backup-verification has no disaster: its healthy
        // phase runs from the rules' load to its end, through the backup and verification jobs (15-30 s at this
        // scale, longer under load), past the rule's for: (10 min scaled 1:90, 6.7 s; it reads only the catalog, so
        // no archive-run floor) and the drill's sampling (3.25 s, drill/scenarios/alerts.ts).
        const report = await runDrill({ ...SMALL, scenarios: ["backup-verification"], sabotage: { pluginSeesNoBackup: true } });
        const [result] = report.scenarios;
        assert.equal(result.status, "FAIL", result.summary);
        assert.match(result.summary, /DrBaseBackupTooOld fired during a healthy phase \(at \+\d+\.\d s\)/);
        const falseAlert = result.alerts!.firings.find((f) => f.alert === "DrBaseBackupTooOld" && f.inHealthyPhase);
        assert.ok(falseAlert, JSON.stringify(result.alerts));
        // The jobs themselves succeeded: the FAIL comes from the alert alone.
        assert.ok(result.checks.every((c) => c.ok), JSON.stringify(result.checks));
    });
});
