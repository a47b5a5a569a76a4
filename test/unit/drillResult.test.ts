// The one place a drill scenario is judged (drill/scenarios/result.ts): from what the scenario
// measured and the checks it recorded to each measure's verdict, the status and the summary.
import { strict as assert } from "assert";
import { toMarkdown } from "../../drill/report";
import { buildResult } from "../../drill/scenarios/result";
import { Measurement, Recorder, RpoMeasurement, ScenarioDefinition } from "../../drill/scenarios/scenario";
import { DrillReport } from "../../drill/types";

const definition: ScenarioDefinition = { name: "test-scenario", title: "A scenario under test", measure: async () => measured() };

function rpo(overrides: Partial<RpoMeasurement> = {}): RpoMeasurement {
    return {
        lostCommits: 40,
        acknowledgedCommits: 400,
        measuredSeconds: 10.5,
        target: { label: "5m (drstack:rpo.region)", seconds: 10 },
        judgedAgainst: "the region RPO",
        limitName: "the region RPO",
        ...overrides,
    };
}

function measured(overrides: Partial<Measurement> = {}): Measurement {
    return {
        passSummary: "all good",
        rpo: rpo({ lostCommits: 0, measuredSeconds: 0 }),
        rto: { measuredSeconds: 1.8, target: { label: "1m (drstack:rto.region)", seconds: 2 } },
        commitsMs: [10, 20, 30],
        lostMs: [],
        ...overrides,
    };
}

function recorder(): Recorder {
    return new Recorder(() => undefined, definition.name);
}

describe("drill scenario result: judged once, from what the scenario measured", () => {
    it("passes with the scenario's own summary when every check and every measure is within its limit", () => {
        const rec = recorder();
        rec.check("standby streamed", true, "streaming");
        const r = buildResult(definition, rec, measured());
        assert.equal(r.status, "PASS");
        assert.equal(r.summary, "all good");
        assert.equal(r.rpo!.met, true);
        assert.equal(r.rto!.met, true);
        assert.deepEqual(r.timeline.commitsMs, [10, 20, 30]);
        assert.equal("limitName" in r.rpo!, false, "the failure wording stays out of the report");
    });

    it("judges the RPO against limitSeconds when given: a log-shipping loss within its predicted bound passes above the region RPO", () => {
        assert.equal(buildResult(definition, recorder(), measured({ rpo: rpo({ limitSeconds: 13 }) })).rpo!.met, true);
        const over = buildResult(definition, recorder(), measured({ rpo: rpo({ limitSeconds: 10, limitName: "the predicted log-shipping bound" }) }));
        assert.equal(over.rpo!.met, false);
        assert.equal(over.status, "FAIL");
        assert.match(over.summary, /^lost 40 acknowledged commits spanning 10\.500 s, above the predicted log-shipping bound of 10\.0 s$/);
        const noLimit = buildResult(definition, recorder(), measured({ rpo: rpo() }));
        assert.equal(noLimit.rpo!.met, false, "without limitSeconds the target is the limit");
    });

    it("allows no lost commit against a zero limit, however short the span", () => {
        const r = buildResult(definition, recorder(), measured({ rpo: rpo({ lostCommits: 1, measuredSeconds: 0, target: { label: "0 commits", seconds: 0 }, limitName: "a planned switchover" }) }));
        assert.equal(r.rpo!.met, false);
        assert.equal(r.status, "FAIL");
        assert.match(r.summary, /lost 1 acknowledged commits where a planned switchover allows none/);
    });

    it("fails an RTO over its target, naming the target", () => {
        const r = buildResult(definition, recorder(), measured({ rto: { measuredSeconds: 2.4, target: { label: "1m (drstack:rto.region)", seconds: 2 } } }));
        assert.equal(r.rto!.met, false);
        assert.equal(r.rpo!.met, true);
        assert.equal(r.summary, "RTO 2.4 s above the target 1m (drstack:rto.region)");
    });

    it("fails on a failed check, naming it with its detail, alongside any measure over its limit", () => {
        const rec = recorder();
        rec.check("WAL was archived under load", false, "0 segments archived");
        const r = buildResult(definition, rec, measured({ rpo: rpo() }));
        assert.equal(r.status, "FAIL");
        assert.deepEqual(r.summary.split("; "), ["WAL was archived under load: 0 segments archived", "lost 40 acknowledged commits spanning 10.500 s, above the region RPO of 10.0 s"]);
    });

    it("is an ERROR with the cause when the scenario could not complete, and keeps what was recorded", () => {
        const rec = recorder();
        rec.event("disaster", "disaster");
        const r = buildResult(definition, rec, new Error("barman-cloud-restore failed (exit 1):\nsome progress\nERROR: Cannot connect to S3"));
        assert.equal(r.status, "ERROR");
        assert.equal(r.summary, "the scenario could not complete: barman-cloud-restore failed (exit 1): | ERROR: Cannot connect to S3");
        assert.equal(r.rpo, undefined);
        assert.equal(r.timeline.events.length, 1);
    });

    it("is what the report renders: the Markdown rows show these verdicts", () => {
        const r = buildResult(definition, recorder(), measured({ rpo: rpo() }));
        const report = { stack: "primary", startedAt: "", finishedAt: "", status: r.status, machine: { cpus: 1, cpuModel: "x", memoryGiB: 1, os: "x", node: "x", postgres: "x" },
            settings: { rate: 1, durationSeconds: 1, replicationLagSeconds: 1, timeScale: 1, archiveTimeoutSeconds: 1, productionArchiveTimeout: "1s", walCompression: "gzip", walUploadAllowanceSeconds: 1 },
            emulations: [], scenarios: [r] } satisfies DrillReport;
        const rows = toMarkdown(report).split("\n").filter((l) => l.startsWith("| RPO (data loss)") || l.startsWith("| RTO"));
        assert.match(rows[0], /\| FAIL \|/);
        assert.match(rows[1], /\| PASS \|/);
    });

    describe("alerts (issue 12 item 9): a healthy-phase firing and a missing or late expected alert FAIL", () => {
        const firing = (alert: string, firedAtMs: number, inHealthyPhase: boolean, afterFaultSeconds?: number) => ({ alert, firedAtMs, inHealthyPhase, afterFaultSeconds, labels: { alertname: alert } });
        const report0 = (): DrillReport => ({ stack: "primary", startedAt: "", finishedAt: "", status: "PASS", machine: { cpus: 1, cpuModel: "x", memoryGiB: 1, os: "x", node: "x", postgres: "x" },
            settings: { rate: 1, durationSeconds: 1, replicationLagSeconds: 1, timeScale: 1, archiveTimeoutSeconds: 1, productionArchiveTimeout: "1s", walCompression: "gzip", walUploadAllowanceSeconds: 1 },
            emulations: [], scenarios: [] });
        const expected = (detectedAfterSeconds?: number) => [{ alert: "DrWalArchiveStale", withinSeconds: 10, limitName: "the data-corruption RPO", detectedAfterSeconds }];

        it("passes when only the fault's alert fired, in time; the report lists it with its time to detect", () => {
            const result = buildResult(definition, recorder(), measured({ alerts: { firings: [firing("DrWalArchiveStale", 9000, false, 7.5)], expected: expected(7.5) } }));
            assert.equal(result.status, "PASS", result.summary);
            assert.equal(result.alerts!.expected[0].met, true);
            const md = toMarkdown({ ...report0(), scenarios: [result] });
            assert.match(md, /\| DrWalArchiveStale \| \? \| \? \| \+9(\.0)? ?s \| 7\.5 ?s \| after the fault \|/);
            assert.match(md, /\| DrWalArchiveStale \| 10 ?s \(the data-corruption RPO\) \| 7\.5 ?s \| PASS \|/);
            assert.match(md, /\| test-scenario \| DrWalArchiveStale 7\.5 ?s \| 1 of 1 \| none \|/);
        });

        it("FAILS naming an alert that fired during a healthy phase", () => {
            const result = buildResult(definition, recorder(), measured({ alerts: { firings: [firing("DrBackupStale", 2000, true)], expected: [] } }));
            assert.equal(result.status, "FAIL");
            assert.match(result.summary, /DrBackupStale fired during a healthy phase \(at \+2\.0 s\)/);
        });

        it("FAILS when the expected alert fired late or not at all", () => {
            const late = buildResult(definition, recorder(), measured({ alerts: { firings: [firing("DrWalArchiveStale", 30000, false, 12)], expected: expected(12) } }));
            assert.equal(late.status, "FAIL");
            assert.match(late.summary, /DrWalArchiveStale fired 12\.0 s after the fault, above the data-corruption RPO of 10\.0 s/);
            const missing = buildResult(definition, recorder(), measured({ alerts: { firings: [], expected: expected(undefined) } }));
            assert.match(missing.summary, /DrWalArchiveStale did not fire after the fault/);
        });
    });
});
