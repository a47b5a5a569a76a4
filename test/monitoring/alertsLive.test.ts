// The stack's generated alert rules, scaled 1:30 as in the drill, evaluated by a real Prometheus
// that scrapes a real prometheus-postgres-exporter (CloudNativePG's default queries) in front of a
// real PostgreSQL 15, and a real Pushgateway fed by the jobs' own publishing code (scripts/lib.sh):
//   (a) a healthy server with working archiving fires nothing;
//   (b) a broken archive_command fires DrWalArchiveFailing and DrWalArchiveStale within threshold + for;
//   (c) a failed restore verification, published as the jobs publish it, fires DrRestoreVerificationFailed.
// Measured times to detect are printed (figures for the report, bounds only as the rules define them).
//
// Cleanup is local (the stack's stop() and the server's cleanup(), each killing its process groups);
// with local/teardown.ts (branch h2-drill) register both there instead.
import { strict as assert } from "assert";
import * as path from "path";
import { parseConfig } from "../../config";
import { parseDuration } from "../../model/duration";
import { readStackConfig } from "../../config";
import { MonitoringStack, podLabels } from "../../drill/monitoring/stack";
import { parseBackupList } from "../../drill/monitoring/barmanCloudPlugin";
import { drillSettings } from "../../drill/topology";
import { LocalPostgres } from "../../local/postgres";
import { runProcess, sleep, waitFor } from "../../local/processes";
import { systemPath } from "../../local/tools";
import { makeTempDir, removeDir, serviceUser } from "../../local/user";

const TIME_SCALE = 30;
const REPO_ROOT = path.resolve(__dirname, "../..");

describe("alert rules proven by a real Prometheus (1:30)", function () {
    this.timeout(120000);
    const config = parseConfig(readStackConfig("primary"), "primary");
    const settings = drillSettings("primary", config, { rate: 10, durationSeconds: 10, replicationLagSeconds: 1, timeScale: TIME_SCALE, log: () => undefined });
    const pod = podLabels(config, config.names.cluster);
    let archiveDir: string | undefined;
    let server: LocalPostgres | undefined;
    let monitoring: MonitoringStack | undefined;

    /** The scaled rule of an alert, and its threshold + for: in drill seconds. */
    const scaled = (alert: string) => monitoring!.rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!;
    const forSeconds = (alert: string) => {
        const text = scaled(alert).for;
        return /ms$/.test(text) ? Number(text.slice(0, -2)) / 1000 : parseDuration(text)!;
    };

    before(async () => {
        archiveDir = makeTempDir("archive", serviceUser());
        server = await LocalPostgres.start({
            name: "monitoring",
            settings: {
                wal_level: "replica",
                archive_mode: "on",
                archive_command: `test ! -f ${archiveDir}/%f && cp %p ${archiveDir}/%f`,
                archive_timeout: `${settings.archiveTimeoutSeconds}s`,
            },
        });
        await server.query("CHECKPOINT");
        await server.query("CREATE TABLE ticks (at timestamptz NOT NULL DEFAULT now())");
        monitoring = await MonitoringStack.start({ config, timeScale: TIME_SCALE });
        await monitoring.addServer(server, pod);
    });

    after(async () => {
        await monitoring?.stop();
        await server?.cleanup();
        removeDir(archiveDir);
    });

    /** Commits a row every 100 ms for `seconds` (or until `until()`), as a steady workload. */
    async function workload(seconds: number, until: () => boolean = () => false): Promise<void> {
        const end = Date.now() + seconds * 1000;
        while (Date.now() < end && !until()) {
            await server!.query("INSERT INTO ticks DEFAULT VALUES");
            await sleep(100);
        }
    }

    it("scrapes CloudNativePG's metric names with the pod's labels, and covers every cnpg_* metric the rules read", async () => {
        const p = monitoring!.prometheus;
        await waitFor("a scrape of the exporter", async () => (await p.query(`cnpg_pg_stat_archiver_archived_count{pod="${pod.pod}"}`)).length > 0, 20000);
        const names = (await p.query('group by (__name__) ({job="cnpg"})')).map((s) => s.metric.__name__).sort();
        const read = monitoring!.coverage().flatMap((c) => c.metrics).filter((m) => m.startsWith("cnpg_"));
        assert.deepEqual([...new Set(read)].filter((m) => !names.includes(m)), [], `served: ${names.join(", ")}`);
        const series = await p.query(`cnpg_pg_stat_archiver_seconds_since_last_archival`);
        assert.equal(series.length, 1);
        assert.equal(series[0].metric.namespace, pod.namespace);
        assert.equal(series[0].metric.pod, pod.pod);
        assert.equal(series[0].metric.server, undefined, "postgres_exporter's own server label is dropped, as CloudNativePG has none");
        // The emulated instance-manager count (its "ready" side is what makes DrWalArchiveStale fire in (b)).
        const status = await p.query("cnpg_collector_pg_wal_archive_status");
        assert.deepEqual(status.map((s) => s.metric.value).sort(), ["done", "ready"]);
        console.log(`      coverage: ${monitoring!.coverage().map((c) => `${c.alert} ${c.provable ? "provable" : `not provable (${c.missing.map((m) => m.producer).join("; ")})`}`).join("\n                ")}`);
    });

    it("(a) fires nothing while the server archives normally", async () => {
        const from = Date.now();
        // Longer than archive_timeout (segments switch and archive) and than DrWalArchiveStale's threshold + for.
        const seconds = Math.max(settings.archiveTimeoutSeconds, config.alerts.walArchiveAgeSeconds / TIME_SCALE + forSeconds("DrWalArchiveStale")) + 3;
        await workload(seconds);
        await monitoring!.watcher.poll();
        const archived = await monitoring!.prometheus.query(`cnpg_pg_stat_archiver_archived_count{pod="${pod.pod}"}`);
        assert.ok(archived[0].value >= 2, `segments were archived during the healthy phase (${archived[0].value})`);
        const fired = monitoring!.watcher.firedBetween(from);
        assert.deepEqual(fired.map((f) => f.alert), [], `false alerts in a healthy phase: ${JSON.stringify(fired)}`);
        console.log(`      healthy for ${seconds.toFixed(1)} s, ${archived[0].value} segments archived, alerts seen active: ${monitoring!.watcher.all().map((a) => a.alert).join(", ") || "none"}`);
    });

    it("(b) a broken archive_command fires DrWalArchiveFailing and DrWalArchiveStale within threshold + for", async () => {
        const [lastArchived] = await monitoring!.prometheus.query(`cnpg_pg_stat_archiver_last_archived_time{pod="${pod.pod}"}`);
        await server!.query("ALTER SYSTEM SET archive_command = 'false'");
        await server!.query("SELECT pg_reload_conf()");
        const faultAt = Date.now();
        // A completed segment is now waiting: WAL at risk.
        await server!.query("INSERT INTO ticks DEFAULT VALUES");
        await server!.query("SELECT pg_switch_wal()");
        const staleBound = config.alerts.walArchiveAgeSeconds / TIME_SCALE + forSeconds("DrWalArchiveStale");
        // Slack: one scrape, one evaluation, one poll (1 s each at most) and a loaded machine.
        const slack = 8;
        let done = false;
        const workloadDone = workload(staleBound + slack, () => done);
        try {
            const failing = await monitoring!.watcher.waitForFiring("DrWalArchiveFailing", faultAt, (forSeconds("DrWalArchiveFailing") + slack) * 1000);
            const stale = await monitoring!.watcher.waitForFiring("DrWalArchiveStale", faultAt, (staleBound + slack) * 1000);
            assert.equal(failing.labels.pod, pod.pod);
            assert.equal(stale.labels.cluster, config.names.cluster);
            assert.equal(stale.labels.severity, "critical");
            console.log(
                `      time to detect: DrWalArchiveFailing ${((failing.firingAtMs! - faultAt) / 1000).toFixed(1)} s (for: ${scaled("DrWalArchiveFailing").for}), ` +
                    `DrWalArchiveStale ${((stale.firingAtMs! - faultAt) / 1000).toFixed(1)} s, ` +
                    `${(stale.firingAtMs! / 1000 - lastArchived.value).toFixed(1)} s after the last successful archival ` +
                    `(threshold ${config.alerts.walArchiveAgeSeconds / TIME_SCALE} s + for: ${scaled("DrWalArchiveStale").for})`,
            );
        } finally {
            done = true;
            await workloadDone;
        }
    });

    it("(c) a failed restore verification, published by the jobs' own code, fires DrRestoreVerificationFailed", async () => {
        const pushedAt = Date.now();
        // The verify scripts' exit path (scripts/lib.sh: verification_begin, die, verification_publish,
        // publish_metrics): only the failure is made up, the publishing is the jobs' own.
        const script = `. "${REPO_ROOT}/scripts/lib.sh"; setup_work_dir; VERIFY_KIND=logical; verification_begin; die "restored dump is empty (simulated)"`;
        const run = await runProcess("sh", ["-c", script, "verify-logical"], {
            env: { PATH: systemPath(), HOME: "/tmp", CLUSTER_NAME: config.names.cluster, PUSHGATEWAY_URL: monitoring!.pushgatewayUrl },
            timeoutMs: 30000,
        });
        assert.equal(run.code, 1, run.stderr + run.stdout);
        assert.match(run.stdout, /metrics pushed to/);
        const failed = await monitoring!.watcher.waitForFiring("DrRestoreVerificationFailed", pushedAt, 15000);
        assert.equal(failed.labels.kind, "logical");
        assert.equal(failed.labels.cluster, config.names.cluster);
        console.log(`      time to detect: DrRestoreVerificationFailed ${((failed.firingAtMs! - pushedAt) / 1000).toFixed(1)} s after the push (for: ${scaled("DrRestoreVerificationFailed").for})`);
    });

    it("(d) the emulated plugin metrics carry the pod's labels: DrBaseBackupTooOld's expression sees an old backup", async () => {
        const threshold = config.alerts.baseBackupMaxAgeSeconds / TIME_SCALE;
        const endedAt = new Date(Date.now() - (threshold + 60) * 1000);
        const ctime = endedAt.toUTCString().replace(/^(\w{3}), (\d{2}) (\w{3}) (\d{4}) ([\d:]{8}) GMT$/, "$1 $3 $2 $5 $4");
        const pushedAt = Date.now();
        await monitoring!.publishBackupCatalog(pod, parseBackupList(JSON.stringify({ backups_list: [{ backup_id: "old", status: "DONE", end_time: ctime }] })));
        // Pending is enough to show the rule's selector matches the series (it would fire after its scaled for:).
        await waitFor("DrBaseBackupTooOld to become active", async () => {
            await monitoring!.watcher.poll();
            return monitoring!.watcher.all().some((a) => a.alert === "DrBaseBackupTooOld" && a.lastSeenAtMs >= pushedAt);
        }, 15000);
        const active = (await monitoring!.prometheus.alerts()).map((a) => a.labels.alertname);
        assert.ok(active.includes("DrBaseBackupTooOld"));
        assert.ok(!active.includes("DrBaseBackupMetricsAbsent"), `DrBaseBackupMetricsAbsent resolves once the plugin metrics are there: ${active.join(", ")}`);
    });
});
