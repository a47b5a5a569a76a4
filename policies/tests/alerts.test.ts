import { strict as assert } from "assert";
import { alertsPresent, alertThresholds, verificationScheduled } from "../alerts";
import { Fixture, violations } from "./helpers";

const rules = (archiveAge: number, lag?: number): Fixture => ({
    type: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    name: "rules",
    props: {
        spec: {
            groups: [
                {
                    name: "g",
                    rules: [
                        { alert: "DrWalArchiveStale", expr: `(cnpg_pg_stat_archiver_seconds_since_last_archival{pod=~"a-[0-9]+"} > ${archiveAge}) and on (pod) (x > 0)` },
                        ...(lag === undefined ? [] : [{ alert: "DrReplicaLagAboveRpo", expr: `cnpg_pg_replication_lag{pod=~"a-[0-9]+"} > ${lag}` }]),
                    ],
                },
            ],
        },
    },
});
const region = (role: string): Fixture => ({ type: "drstack:region:DrRegion", name: "region", props: { config: { role } } });
const job = (schedule: string, extra: Record<string, unknown> = {}): Fixture => ({
    type: "kubernetes:batch/v1:CronJob",
    name: "verify",
    props: { metadata: { labels: { "drstack.io/job": "restore-verification" } }, spec: { schedule, ...extra } },
});

describe("policies: alerts", () => {
    it("alert-thresholds-within-rpo: thresholds at the RPO pass; above it fail, naming the target", async () => {
        assert.deepEqual(await violations(alertThresholds, rules(300, 300)), []);
        assert.match((await violations(alertThresholds, rules(600, 300)))[0], /alert DrWalArchiveStale fires above 10m; the limit is 5m \(target rpoDataCorruption\)/);
        assert.match((await violations(alertThresholds, rules(300, 900)))[0], /alert DrReplicaLagAboveRpo fires above 15m; the limit is 5m \(target rpoRegion\)/);
    });
    it("alert-thresholds-within-rpo: an expression without a checkable threshold is reported", async () => {
        const odd = rules(300);
        odd.props.spec.groups[0].rules[0].expr = "vector(1)";
        assert.match((await violations(alertThresholds, odd))[0], /has no "cnpg_pg_stat_archiver_seconds_since_last_archival\{\.\.\.\} > <seconds>" threshold/);
    });
    it("rpo-alerts-present: the archive-age alert everywhere, the lag alert on a standby", async () => {
        assert.deepEqual(await violations(alertsPresent, [region("primary"), rules(300)]), []);
        assert.match((await violations(alertsPresent, [region("standby"), rules(300)]))[0], /no PrometheusRule defines DrReplicaLagAboveRpo; a standby stack needs it/);
        assert.match((await violations(alertsPresent, [region("primary")]))[0], /no PrometheusRule defines DrWalArchiveStale/);
    });
    it("restore-verification-scheduled: weekly passes; monthly, suspended or missing fail", async () => {
        assert.deepEqual(await violations(verificationScheduled, job("0 5 * * 0")), []);
        assert.match((await violations(verificationScheduled, job("0 5 1 * *")))[0], /leaves up to 31d between verifications; the limit is 7d \(target maxVerificationInterval\)/);
        assert.match((await violations(verificationScheduled, job("0 5 * * 0", { suspend: true })))[0], /spec\.suspend is true/);
        assert.match((await violations(verificationScheduled, []))[0], /has no restore-verification CronJob/);
    });
});
