import { strict as assert } from "assert";
import { alertsNotifySomeone, alertsPresent, alertThresholds, verificationScheduled } from "../alerts";
import { Fixture, violations } from "./helpers";

const rules = (archiveAge: number, lag?: number, staleFor = "1m", backlogFor = "4m30s"): Fixture => ({
    type: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    name: "rules",
    props: {
        spec: {
            groups: [
                {
                    name: "g",
                    rules: [
                        { alert: "DrWalArchiveStale", expr: `(cnpg_pg_stat_archiver_seconds_since_last_archival{pod=~"a-[0-9]+"} > ${archiveAge}) and on (pod) (x > 0)`, for: staleFor },
                        {
                            alert: "DrWalArchiveBacklog",
                            expr: `(r{pod=~"a-[0-9]+"} / on (pod) rate(cnpg_pg_stat_archiver_archived_count{pod=~"a-[0-9]+"}[5m])) > 30`,
                            for: backlogFor,
                        },
                        ...(lag === undefined ? [] : [{ alert: "DrReplicaLagAboveRpo", expr: `cnpg_pg_replication_lag{pod=~"a-[0-9]+"} > ${lag}`, for: "2m" }]),
                    ],
                },
            ],
        },
    },
});
const region = (role: string, alerts: Record<string, unknown> = {}): Fixture => ({ type: "drstack:region:DrRegion", name: "region", props: { config: { role, alerts } } });
const subscription: Fixture = { type: "aws:sns/topicSubscription:TopicSubscription", name: "sub", props: { protocol: "email", endpoint: "oncall@acme.example.com" } };
const job = (schedule: string, extra: Record<string, unknown> = {}): Fixture => ({
    type: "kubernetes:batch/v1:CronJob",
    name: "verify",
    props: { metadata: { labels: { "drstack.io/job": "restore-verification" } }, spec: { schedule, ...extra } },
});

describe("policies: alerts", () => {
    it("alert-thresholds-within-rpo: threshold + for: at the RPO pass; beyond it fail, naming the target", async () => {
        assert.deepEqual(await violations(alertThresholds, rules(240, 180)), []);
        assert.match(
            (await violations(alertThresholds, rules(600, 180)))[0],
            /alert DrWalArchiveStale fires only after 11m \(threshold 10m \+ for: 1m\); the limit is 5m \(target rpoDataCorruption\)/,
        );
        assert.match((await violations(alertThresholds, rules(240, 900)))[0], /alert DrReplicaLagAboveRpo fires only after 17m \(threshold 15m \+ for: 2m\); the limit is 5m/);
    });
    it("alert-thresholds-within-rpo: a for: alone can break the RPO (threshold unchanged)", async () => {
        const [stale] = await violations(alertThresholds, rules(240, 180, "2h"));
        assert.match(stale, /alert DrWalArchiveStale fires only after 2h4m \(threshold 4m \+ for: 2h\); the limit is 5m/);
        const [backlog] = await violations(alertThresholds, rules(240, 180, "1m", "10m"));
        assert.match(backlog, /alert DrWalArchiveBacklog fires only after 10m30s \(threshold 30s \+ for: 10m\)/);
    });
    it("alerts-notify-someone: a subscription, or an explicit opt-out, passes; neither fails naming drstack:alerts.notify", async () => {
        assert.deepEqual(await violations(alertsNotifySomeone, [region("primary"), subscription]), []);
        assert.deepEqual(await violations(alertsNotifySomeone, [region("primary", { allowNoNotify: true })]), []);
        assert.match((await violations(alertsNotifySomeone, [region("primary")]))[0], /alarm topics have no subscription.*drstack:alerts\.notify/);
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
