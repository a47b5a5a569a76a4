// The shipped stacks' alert rules, checked and unit-tested by the real promtool.
// Each scenario below reads as: given these series, at time T this alert is (not) firing.
// Thresholds for the shipped stacks (RPO 5m, daily backups, weekly verification):
//   archive age 5m, base/logical backup age 1d1h, verification age 7d6h, replica lag 5m.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { alertRuleGroups } from "../../components/monitoring/alertRules";
import { parseConfig, readStackConfig } from "../../config";
import { rulesFileFor } from "../../tools/rules";

const GENERATED = path.join(__dirname, "generated");

interface Expect {
    /** Evaluation time, e.g. "7m", "25h11m". */
    at: string;
    alert: string;
    /** Extra labels the firing alert carries beyond the rule's own (e.g. the pod); omit for "silent". */
    fires?: Record<string, string>;
}

interface Scenario {
    name: string;
    /** Sample interval of the series (default 1m). */
    interval?: string;
    /** Rule evaluation interval (default 1m); week-long scenarios use 5m to keep promtool fast. */
    evaluationInterval?: string;
    series: Record<string, string>;
    expect: Expect[];
}

const PRIMARY = 'namespace="databases", pod="pg-acme-orders-use1-1"';
const DR = 'namespace="databases", pod="pg-acme-orders-usw2-1"';
const POD_USE1 = { namespace: "databases", pod: "pg-acme-orders-use1-1" };
const POD_USW2 = { namespace: "databases", pod: "pg-acme-orders-usw2-1" };
const NS = { namespace: "databases" };

/** Series of a healthy primary, so that "absent" alerts stay quiet in scenarios about something else. */
function healthy(pod: string, cluster: string, verified = cluster): Record<string, string> {
    return {
        [`cnpg_pg_stat_archiver_seconds_since_last_archival{${pod}}`]: "0+30x8 0+30x8 0+30x8",
        [`cnpg_collector_pg_wal_archive_status{${pod}, value="ready"}`]: "0x26",
        [`cnpg_pg_stat_archiver_last_archived_time{${pod}}`]: "100+60x26",
        [`cnpg_pg_stat_archiver_last_failed_time{${pod}}`]: "50x26",
        [`barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{${pod}}`]: "0x26",
        [`kube_cronjob_status_last_successful_time{namespace="databases", cronjob="${cluster}-logical-backup"}`]: "0x26",
        [`drstack_restore_verification_success{cluster="${verified}", kind="logical"}`]: "1x26",
        [`drstack_restore_verification_last_run_timestamp_seconds{cluster="${verified}", kind="logical"}`]: "0x26",
        [`drstack_restore_verification_last_success_timestamp_seconds{cluster="${verified}", kind="logical"}`]: "0x26",
    };
}

const primaryScenarios: Scenario[] = [
    {
        name: "healthy primary: archive age stays under 5m, backups fresh, verification passing",
        series: healthy(PRIMARY, "pg-acme-orders-use1"),
        expect: ["DrWalArchiveStale", "DrWalArchiveFailing", "DrWalArchiveMetricsAbsent", "DrBaseBackupTooOld", "DrRestoreVerificationFailed"].map(
            (alert) => ({ at: "25m", alert }),
        ),
    },
    {
        name: "WAL waits to be archived: age grows 1m per minute with segments ready -> over 5m at 6m, fires 1m later",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "0+60x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "1x20",
        },
        expect: [
            { at: "6m", alert: "DrWalArchiveStale" },
            { at: "7m", alert: "DrWalArchiveStale", fires: POD_USE1 },
        ],
    },
    {
        name: "idle database: nothing to archive, the archive age alone does not alert",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "0+60x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "0x20",
        },
        expect: [{ at: "15m", alert: "DrWalArchiveStale" }],
    },
    {
        name: "archive attempts fail (S3 unreachable): fires after 2m",
        series: {
            [`cnpg_pg_stat_archiver_last_archived_time{${PRIMARY}}`]: "50x10",
            [`cnpg_pg_stat_archiver_last_failed_time{${PRIMARY}}`]: "100+60x10",
        },
        expect: [
            { at: "1m", alert: "DrWalArchiveFailing" },
            { at: "2m", alert: "DrWalArchiveFailing", fires: POD_USE1 },
        ],
    },
    {
        name: "no archiver metrics at all (exporter or scrape broken): fires after 10m",
        series: { [`up{job="unrelated"}`]: "1x20" },
        expect: [
            { at: "9m", alert: "DrWalArchiveMetricsAbsent" },
            { at: "10m", alert: "DrWalArchiveMetricsAbsent", fires: NS },
        ],
    },
    {
        name: "base backups stop (last one at t=0): over 1d1h at 25h1m, fires 10m later",
        interval: "1m",
        series: { [`barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{${PRIMARY}}`]: "0x1600" },
        expect: [
            { at: "25h10m", alert: "DrBaseBackupTooOld" },
            { at: "25h11m", alert: "DrBaseBackupTooOld", fires: NS },
        ],
    },
    {
        name: "no base backup metric (no backup yet, or plugin not scraped): fires after 30m",
        series: { [`up{job="unrelated"}`]: "1x40" },
        expect: [
            { at: "29m", alert: "DrBaseBackupMetricsAbsent" },
            { at: "30m", alert: "DrBaseBackupMetricsAbsent", fires: NS },
        ],
    },
    {
        name: "logical backup CronJob stops succeeding (last success t=0): fires at 25h11m",
        series: { [`kube_cronjob_status_last_successful_time{namespace="databases", cronjob="pg-acme-orders-use1-logical-backup"}`]: "0x1600" },
        expect: [
            { at: "25h10m", alert: "DrLogicalBackupNotSucceeding" },
            { at: "25h11m", alert: "DrLogicalBackupNotSucceeding", fires: { namespace: "databases", cronjob: "pg-acme-orders-use1-logical-backup" } },
        ],
    },
    {
        name: "logical backup never succeeded: fires after 1d1h",
        interval: "10m",
        series: { [`up{job="unrelated"}`]: "1x160" },
        expect: [
            { at: "24h50m", alert: "DrLogicalBackupNeverSucceeded" },
            { at: "25h", alert: "DrLogicalBackupNeverSucceeded", fires: { namespace: "databases", cronjob: "pg-acme-orders-use1-logical-backup" } },
        ],
    },
    {
        name: "restore verification fails: fires at once",
        series: { [`drstack_restore_verification_success{cluster="pg-acme-orders-use1", kind="physical"}`]: "0x5" },
        expect: [{ at: "0m", alert: "DrRestoreVerificationFailed", fires: { kind: "physical" } }],
    },
    {
        name: "restore verification stops succeeding (last success t=0): over 7d6h, fires 30m later",
        evaluationInterval: "5m",
        // 5m samples: sparser ones go stale (5m lookback) between samples and reset the for: clock.
        interval: "5m",
        series: { [`drstack_restore_verification_last_success_timestamp_seconds{cluster="pg-acme-orders-use1", kind="logical"}`]: "0x2200" },
        expect: [
            { at: "7d6h20m", alert: "DrRestoreVerificationStale" },
            { at: "7d6h40m", alert: "DrRestoreVerificationStale", fires: { kind: "logical" } },
        ],
    },
    {
        name: "no restore verification has ever reported: fires after 7d6h",
        evaluationInterval: "5m",
        interval: "1h",
        series: { [`up{job="unrelated"}`]: "1x200" },
        expect: [
            { at: "7d5h", alert: "DrRestoreVerificationAbsent" },
            { at: "7d6h", alert: "DrRestoreVerificationAbsent", fires: {} },
        ],
    },
];

const drScenarios: Scenario[] = [
    {
        name: "healthy standby: lag under the 5m region RPO",
        // The standby verifies the primary's replicated backups, so its verification metrics name pg-acme-orders-use1.
        series: { ...healthy(DR, "pg-acme-orders-usw2", "pg-acme-orders-use1"), [`cnpg_pg_replication_lag{${DR}}`]: "0+10x5 0+10x5 0+10x5 0+10x5" },
        expect: ["DrReplicaLagAboveRpo", "DrStandbyNotReporting", "DrWalArchiveStale", "DrRestoreVerificationFailed"].map((alert) => ({ at: "20m", alert })),
    },
    {
        name: "standby falls behind: lag grows 30s per minute -> over 5m at 11m, fires 2m later (critical)",
        series: { [`cnpg_pg_replication_lag{${DR}}`]: "0+30x30" },
        expect: [
            { at: "12m", alert: "DrReplicaLagAboveRpo" },
            { at: "13m", alert: "DrReplicaLagAboveRpo", fires: POD_USW2 },
        ],
    },
    {
        name: "standby reports nothing (down, or not receiving WAL at all): fires after 10m",
        series: { [`up{job="unrelated"}`]: "1x20" },
        expect: [
            { at: "9m", alert: "DrStandbyNotReporting" },
            { at: "10m", alert: "DrStandbyNotReporting", fires: NS },
        ],
    },
    {
        name: "the standby's own archive failing is a warning (critical only on the primary)",
        series: {
            [`cnpg_pg_stat_archiver_last_archived_time{${DR}}`]: "50x10",
            [`cnpg_pg_stat_archiver_last_failed_time{${DR}}`]: "100+60x10",
        },
        expect: [{ at: "2m", alert: "DrWalArchiveFailing", fires: POD_USW2 }],
    },
];

/** Builds the promtool test file: expected labels and annotations come from the generated rule itself. */
function promtoolTests(stack: string, rulesFile: string, scenarios: Scenario[], evaluationInterval = "1m"): string {
    const rules = alertRuleGroups(parseConfig(readStackConfig(stack), stack)).groups.flatMap((g) => g.rules);
    const tests = scenarios.map((s) => ({
        name: s.name,
        interval: s.interval ?? "1m",
        input_series: Object.entries(s.series).map(([series, values]) => ({ series: series.replace(/^(\w+)\{/, "$1{"), values })),
        alert_rule_test: s.expect.map((e) => {
            const rule = rules.find((r) => r.alert === e.alert);
            assert.ok(rule, `stack ${stack} has no alert ${e.alert}`);
            return {
                eval_time: e.at,
                alertname: e.alert,
                exp_alerts: e.fires ? [{ exp_labels: { alertname: e.alert, ...rule.labels, ...e.fires }, exp_annotations: rule.annotations }] : [],
            };
        }),
    }));
    return stringify({ rule_files: [path.basename(rulesFile)], evaluation_interval: evaluationInterval, tests }, { lineWidth: 0 });
}

function promtool(args: string[]): { status: number | null; output: string } {
    const result = spawnSync("promtool", args, { cwd: GENERATED, encoding: "utf8" });
    if (result.error) {
        throw new Error(`promtool is not installed (${result.error.message}): apt-get install -y prometheus`);
    }
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("alert rules under promtool (real)", function () {
    this.timeout(120_000);
    before(() => {
        fs.mkdirSync(GENERATED, { recursive: true });
        execFileSync("promtool", ["--version"], { stdio: "ignore" });
    });

    for (const [stack, scenarios] of [["primary", primaryScenarios], ["dr", drScenarios]] as const) {
        const rulesFile = path.join(GENERATED, `${stack}.rules.yml`);

        it(`promtool check rules accepts the generated rules of the ${stack} stack`, () => {
            fs.writeFileSync(rulesFile, rulesFileFor(stack));
            const { status, output } = promtool(["check", "rules", rulesFile]);
            assert.equal(status, 0, output);
            assert.match(output, /SUCCESS: \d+ rules found/);
        });

        it(`promtool test rules: each alert of the ${stack} stack fires when its condition holds past its for:, and only then`, () => {
            const byInterval = new Map<string, Scenario[]>();
            for (const s of scenarios) {
                const key = s.evaluationInterval ?? "1m";
                byInterval.set(key, [...(byInterval.get(key) ?? []), s]);
            }
            for (const [interval, group] of byInterval) {
                const testFile = path.join(GENERATED, `${stack}.rules.eval-${interval}.test.yml`);
                fs.writeFileSync(testFile, promtoolTests(stack, rulesFile, group, interval));
                const { status, output } = promtool(["test", "rules", testFile]);
                assert.equal(status, 0, output);
                assert.match(output, /SUCCESS/);
            }
        });
    }

    it("promtool test rules can fail: an expectation the rules do not meet is reported", () => {
        const rulesFile = path.join(GENERATED, "primary.rules.yml");
        fs.writeFileSync(rulesFile, rulesFileFor("primary"));
        const wrong: Scenario = { ...primaryScenarios[1], expect: [{ at: "6m", alert: "DrWalArchiveStale", fires: POD_USE1 }] };
        const testFile = path.join(GENERATED, "wrong.rules.test.yml");
        fs.writeFileSync(testFile, promtoolTests("primary", rulesFile, [wrong]));
        const { status, output } = promtool(["test", "rules", testFile]);
        assert.notEqual(status, 0);
        assert.match(output, /FAILED/);
    });
});
