// The shipped stacks' alert rules, checked and unit-tested by the real promtool.
// Each scenario below reads as: given these series, at time T this alert is (not) firing.
// Thresholds for the shipped stacks (RPO 5m, daily backups, weekly verification): archive age 4m + for: 1m,
// archive backlog 30s expected wait + for: 4m30s, base/logical backup age 1d1h, verification age 7d6h,
// replica lag 3m + for: 2m (threshold + for: = the RPO, checked by the policy pack).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { alertRuleGroups } from "../../components/monitoring/alertRules";
import { parseConfig, readStackConfig } from "../../config";
import { rulesFileFor } from "../../tools/rules";
import { testTimeout } from "../support/timeouts";

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
        expect: [
            "DrWalArchiveStale",
            "DrWalArchiveBacklog",
            "DrWalArchiveFailing",
            "DrWalArchiveMetricsAbsent",
            "DrBaseBackupTooOld",
            "DrLogicalBackupSlow",
            "DrRestoreVerificationFailed",
        ].map(
            (alert) => ({ at: "25m", alert }),
        ),
    },
    {
        name: "WAL waits to be archived: age grows 1m per minute with segments ready -> over 4m at 5m, fires 1m later",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "0+60x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "1x20",
        },
        expect: [
            { at: "5m", alert: "DrWalArchiveStale" },
            { at: "6m", alert: "DrWalArchiveStale", fires: POD_USE1 },
        ],
    },
    {
        // CloudNativePG's query reports -1 while pg_stat_archiver has no last_archived_time.
        name: "archiving never succeeded (-1) with a segment ready since start: fires like an age counted from the postmaster's start",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "-1x20",
            [`cnpg_pg_postmaster_start_time{${PRIMARY}}`]: "0x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "1x20",
        },
        expect: [
            { at: "5m", alert: "DrWalArchiveStale" },
            { at: "6m", alert: "DrWalArchiveStale", fires: POD_USE1 },
        ],
    },
    {
        name: "never archived but nothing ready (a new, idle cluster), or a postmaster that just restarted: silent",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "-1x20",
            [`cnpg_pg_postmaster_start_time{${PRIMARY}}`]: "0x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "0x20",
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{namespace="databases", pod="pg-acme-orders-use1-2"}`]: "-1x20",
            [`cnpg_pg_postmaster_start_time{namespace="databases", pod="pg-acme-orders-use1-2"}`]: "600x20",
            [`cnpg_collector_pg_wal_archive_status{namespace="databases", pod="pg-acme-orders-use1-2", value="ready"}`]: "1x20",
        },
        expect: [{ at: "14m", alert: "DrWalArchiveStale" }],
    },
    {
        // Issue 12's case: 181 segments queued, archiving 4 a minute and succeeding all along.
        name: "archiver succeeds but falls behind (181 ready, 4 archived a minute): backlog fires after 4m30s, the age alert stays silent",
        series: {
            [`cnpg_pg_stat_archiver_seconds_since_last_archival{${PRIMARY}}`]: "10x20",
            [`cnpg_pg_stat_archiver_archived_count{${PRIMARY}}`]: "1000+4x20",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "181x20",
        },
        expect: [
            { at: "5m", alert: "DrWalArchiveBacklog" },
            { at: "6m", alert: "DrWalArchiveBacklog", fires: POD_USE1 },
            { at: "10m", alert: "DrWalArchiveStale" },
        ],
    },
    {
        name: "a burst the archiver drains within a minute: no backlog alert",
        series: {
            [`cnpg_pg_stat_archiver_archived_count{${PRIMARY}}`]: "1000 1000 1000 1040 1080 1080 1080 1080 1080 1080 1080 1080",
            [`cnpg_collector_pg_wal_archive_status{${PRIMARY}, value="ready"}`]: "0 0 60 20 0 0 0 0 0 0 0 0",
        },
        expect: [{ at: "3m", alert: "DrWalArchiveBacklog" }, { at: "9m", alert: "DrWalArchiveBacklog" }],
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
        // The plugin also reports 0 when no backup exists at all (plugin metrics.go): the same alert.
        name: "base backups stop (last one at t=0, or none: the plugin reports 0): over 1d1h at 25h1m, fires 10m later",
        interval: "1m",
        series: { [`barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{${PRIMARY}}`]: "0x1600" },
        expect: [
            { at: "25h10m", alert: "DrBaseBackupTooOld" },
            { at: "25h11m", alert: "DrBaseBackupTooOld", fires: NS },
        ],
    },
    {
        name: "no base backup metric (pods not scraped, or plugin not loaded): fires after 30m",
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
        name: "a logical backup run still active after 20 minutes: fires (kube-state-metrics Job owned by the CronJob)",
        series: {
            [`kube_job_status_start_time{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29400000"}`]: "0x30",
            [`kube_job_status_active{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29400000"}`]: "1x30",
            [`kube_job_owner{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29400000", owner_kind="CronJob", owner_name="pg-acme-orders-use1-logical-backup", owner_is_controller="true"}`]: "1x30",
            // A finished run, and another CronJob's long run: neither counts.
            [`kube_job_status_start_time{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29300000"}`]: "0x30",
            [`kube_job_status_active{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29300000"}`]: "0x30",
            [`kube_job_owner{namespace="databases", job_name="pg-acme-orders-use1-logical-backup-29300000", owner_kind="CronJob", owner_name="pg-acme-orders-use1-logical-backup", owner_is_controller="true"}`]: "1x30",
            [`kube_job_status_start_time{namespace="databases", job_name="pg-acme-orders-use1-verify-physical-29400000"}`]: "0x30",
            [`kube_job_status_active{namespace="databases", job_name="pg-acme-orders-use1-verify-physical-29400000"}`]: "1x30",
            [`kube_job_owner{namespace="databases", job_name="pg-acme-orders-use1-verify-physical-29400000", owner_kind="CronJob", owner_name="pg-acme-orders-use1-verify-physical", owner_is_controller="true"}`]: "1x30",
        },
        expect: [
            { at: "20m", alert: "DrLogicalBackupSlow" },
            { at: "21m", alert: "DrLogicalBackupSlow", fires: { namespace: "databases", job_name: "pg-acme-orders-use1-logical-backup-29400000" } },
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
        name: "logical backup size halves to 40 % of the day before: fires 10m after the new size is published",
        evaluationInterval: "5m",
        interval: "5m",
        series: { [`drstack_logical_backup_size_bytes{cluster="pg-acme-orders-use1"}`]: "1000x359 400x30" },
        expect: [
            { at: "29h55m", alert: "DrLogicalBackupSizeChanged" },
            { at: "30h5m", alert: "DrLogicalBackupSizeChanged" },
            { at: "30h10m", alert: "DrLogicalBackupSizeChanged", fires: {} },
        ],
    },
    {
        name: "logical backup size grows by 40 %: within +/-50 %, silent",
        evaluationInterval: "5m",
        interval: "5m",
        series: { [`drstack_logical_backup_size_bytes{cluster="pg-acme-orders-use1"}`]: "1000x359 1400x30" },
        expect: [{ at: "31h", alert: "DrLogicalBackupSizeChanged" }],
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
        name: "standby falls behind: lag grows 30s per minute -> over 3m at 7m, fires 2m later (critical), by the 5m RPO after it fell 3m behind",
        series: { [`cnpg_pg_replication_lag{${DR}}`]: "0+30x30" },
        expect: [
            { at: "8m", alert: "DrReplicaLagAboveRpo" },
            { at: "9m", alert: "DrReplicaLagAboveRpo", fires: POD_USW2 },
        ],
    },
    {
        // With the primary's heartbeat every 30s, an idle primary keeps the last replayed commit at most ~30s old.
        name: "idle primary with its heartbeat: the lag saws between 0 and 30s, silent",
        series: { [`cnpg_pg_replication_lag{${DR}}`]: "0 30 0 30 0 30 0 30 0 30 0 30 0 30 0 30 0 30 0 30" },
        expect: [{ at: "19m", alert: "DrReplicaLagAboveRpo" }],
    },
    {
        name: "on the DR stack a failed verification of the replicated backups names the primary's cluster",
        series: { [`drstack_restore_verification_success{cluster="pg-acme-orders-use1", kind="physical"}`]: "0x5" },
        expect: [{ at: "0m", alert: "DrRestoreVerificationFailed", fires: { kind: "physical", cluster: "pg-acme-orders-use1" } }],
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
    this.timeout(testTimeout(120_000));
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
        const wrong: Scenario = { ...primaryScenarios[1], expect: [{ at: "5m", alert: "DrWalArchiveStale", fires: POD_USE1 }] };
        const testFile = path.join(GENERATED, "wrong.rules.test.yml");
        fs.writeFileSync(testFile, promtoolTests("primary", rulesFile, [wrong]));
        const { status, output } = promtool(["test", "rules", testFile]);
        assert.notEqual(status, 0);
        assert.match(output, /FAILED/);
    });
});
