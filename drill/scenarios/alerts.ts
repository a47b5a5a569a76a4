// The drill's alerting, per scenario (issue 12 item 9), in one call: `const alerts = await
// watchAlerts(ctx, t)` after the topology starts. It runs a MonitoringStack (drill/monitoring/) on the
// scenario's servers, labelled as CloudNativePG's pods, with both stacks' rules scaled by the time
// scale; takes the immediate base backups the ScheduledBackups declare and publishes the catalog as the
// Barman Cloud plugin would, so a healthy cluster is healthy to the rules; and waits until every
// server's metrics are scraped before the healthy phase begins. The scenario then declares what its
// fault must fire (expect) and ends with `alerts: await alerts.measurement()`; result.ts judges it:
// any firing between the start of the healthy phase and the first "disaster" event is a FAIL, and so
// is an expected alert that did not fire within its bound.
//
// Timing (measured on the 2-core drill machine; Prometheus semantics from its docs, "Alerting rules":
// the condition must hold at every evaluation for `for:` before the alert fires):
// - a condition true at T is scraped by T + interval, evaluated (pending) by + interval, and fires
//   at the first evaluation after `for:` elapsed, by + interval; the watcher polls every 250 ms:
//   SAMPLING_SECONDS is that delay;
// - barman-cloud-wal-archive takes about 2 to 3 s per segment here (a Python start plus the upload,
//   not scaled); after each archive_timeout switch DrWalArchiveStale's condition holds for that long
//   in a healthy cluster, so every scaled `for:` is at least that plus one scrape and one evaluation.
import { parseConfig, readStackConfig } from "../../config";
import { AlertName } from "../../model/alertCatalog";
import { parseDuration } from "../../model/duration";
import { readBackupCatalog } from "../monitoring/barmanCloudPlugin";
import { MonitoringStack, PodLabels, podLabels } from "../monitoring/stack";
import { Topology } from "../topology";
import { ExpectedAlert } from "../types";
import { Measurement, ScenarioContext, waitUntil } from "./scenario";

/** Scrape and evaluation interval of the drill's Prometheus, seconds. */
export const MONITORING_INTERVAL_SECONDS = 1;
const POLL_MS = 250;
/** How late the drill sees a condition: one scrape, two evaluations, one poll. */
export const SAMPLING_SECONDS = 3 * MONITORING_INTERVAL_SECONDS + POLL_MS / 1000;
/** One barman-cloud-wal-archive run in the drill under load (Python start + upload), not scaled. */
export const DRILL_ARCHIVE_RUN_SECONDS = 3;
/** The floor for a scaled `for:`: a healthy archive run's transient plus one scrape and one evaluation. */
export const MIN_FOR_SECONDS = DRILL_ARCHIVE_RUN_SECONDS + 2 * MONITORING_INTERVAL_SECONDS;

type Cluster = "primary" | "standby";

export class ScenarioAlerts {
    private readonly expected: { spec: Omit<ExpectedAlert, "met" | "detectedAfterSeconds">; cluster: string; faultAtMs: number }[] = [];

    private constructor(
        private readonly ctx: ScenarioContext,
        private readonly t: Topology,
        readonly monitoring: MonitoringStack,
        /** ms since the scenario start when every server's metrics were in: the healthy phase starts. */
        readonly healthyFromMs: number,
    ) {}

    /** The URL the scenario's jobs push to (their PUSHGATEWAY_URL). */
    get pushgatewayUrl(): string {
        return this.monitoring.pushgatewayUrl;
    }

    /** The pod labels of a cluster's (only) instance. */
    pod(cluster: Cluster): PodLabels {
        return podLabels(this.ctx.settings.config, this.t.archiveOf(cluster).serverName);
    }

    /** Starts monitoring the topology's servers; see the file comment. */
    static async start(ctx: ScenarioContext, t: Topology): Promise<ScenarioAlerts> {
        const { settings: s, rec, teardown } = ctx;
        const clusters: Cluster[] = t.standby ? ["primary", "standby"] : ["primary"];
        const peer = t.declared.stacks.find((name) => name !== s.stack);
        // Start-up order: the rules are loaded only once every pod's metrics are in Prometheus, as on
        // a cluster that has been running; loaded earlier, an absent() rule would be pending (and, with a
        // slow start, firing) before the cluster exists.
        // Only the primary's: barman-cloud-backup from the standby (archive_mode=always) did not finish within
        // minutes on the loaded drill machine (pg_backup_stop waits until the standby archives the backup's last
        // segment). So the standby's plugin metrics are not published either (no emulated 0 that would page
        // DrBaseBackupTooOld); DrBaseBackupMetricsAbsent about it (for: 30m scaled) outlasts the healthy phases.
        const immediate = clusters.filter((c) => c === "primary" && t.declared.immediateBackup[c] && t.options.immediateBackup !== false);
        const published: Cluster[] = ["primary"];
        if (t.standby) rec.notes.push("The standby's immediate base backup is not taken and its Barman Cloud plugin metrics are not emulated (see drill/scenarios/alerts.ts).");
        const [monitoring] = await Promise.all([
            rec.step("start Prometheus and the Pushgateway", async () => {
                const m = await MonitoringStack.start({
                    config: s.config,
                    // The peer's rules only when its cluster runs here; without it they would (rightly) page about a missing standby.
                    peerConfig: peer && t.standby ? s.peerConfig ?? parseConfig(readStackConfig(peer), peer) : undefined,
                    timeScale: s.timeScale,
                    intervalSeconds: MONITORING_INTERVAL_SECONDS,
                    pollMs: POLL_MS,
                    minForSeconds: MIN_FOR_SECONDS,
                    deferRules: true,
                });
                teardown.add("stop monitoring", () => m.stop());
                for (const c of clusters) await m.addServer(t.archiveOf(c).server, podLabels(s.config, t.archiveOf(c).serverName));
                return m;
            }),
            ...immediate.map((c) => rec.step(`immediate base backup of the ${c} (its ScheduledBackup declares immediate: true)`, () => backupWithWalMoving(t, c))),
        ]);
        await rec.step("publish the backup catalogs, wait for every pod's metrics, load the rules", async () => {
            // The plugin reports the ObjectStore's recovery window from the catalog (0 when it is empty).
            await Promise.all(
                published.map(async (c) => {
                    const { bucket, serverName } = t.archiveOf(c);
                    const backups = await readBackupCatalog({ endpointUrl: t.moto.endpoint, bucket, serverName, env: t.moto.awsEnv() });
                    await monitoring.publishBackupCatalog(podLabels(s.config, serverName), backups);
                }),
            );
            for (const c of clusters) {
                const pod = podLabels(s.config, t.archiveOf(c).serverName).pod;
                const metrics = ["cnpg_pg_stat_archiver_seconds_since_last_archival", ...(published.includes(c) ? ["barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"] : [])];
                for (const metric of metrics) {
                    await waitUntil(`${metric} of ${pod} in Prometheus`, async () => (await monitoring.prometheus.query(`${metric}{pod="${pod}"}`)).length > 0, 60000);
                }
            }
            await monitoring.loadRules();
        });
        for (const r of monitoring.rules.raised) {
            rec.notes.push(
                `${r.alert}: for: ${r.scaledSeconds.toFixed(1)} s when scaled, raised to ${r.usedSeconds} s (a healthy archive run of about ${DRILL_ARCHIVE_RUN_SECONDS} s plus one scrape and one evaluation).`,
            );
        }
        monitoring.notes.forEach((n) => rec.notes.push(n));
        return new ScenarioAlerts(ctx, t, monitoring, rec.now());
    }

    /** The effective `for:` (scaled, floored) of an alert's rule for a cluster, seconds. */
    forSeconds(alert: AlertName, cluster: Cluster): number {
        const name = this.t.archiveOf(cluster).serverName;
        const rule = this.monitoring.rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert && r.labels.cluster === name);
        if (!rule) throw new Error(`no ${alert} rule about cluster ${name} in the drill's rules`);
        return /ms$/.test(rule.for) ? Number(rule.for.slice(0, -2)) / 1000 : parseDuration(rule.for)!;
    }

    /**
     * The fault must fire `alert` about `cluster`: its condition holds at the latest `onsetSeconds`
     * after the fault (`onset` says why); the bound is that plus the rule's `for:` plus SAMPLING_SECONDS.
     */
    expect(alert: AlertName, cluster: Cluster, fault: { atMs: number; name: string }, onsetSeconds: number, onset: string): void {
        const forSeconds = this.forSeconds(alert, cluster);
        this.expected.push({
            spec: {
                alert,
                withinSeconds: onsetSeconds + forSeconds + SAMPLING_SECONDS,
                limitName: `its bound after ${fault.name}: ${onset} ${onsetSeconds.toFixed(1)} s + for: ${forSeconds.toFixed(1)} s + sampling ${SAMPLING_SECONDS} s`,
            },
            cluster: this.t.archiveOf(cluster).serverName,
            faultAtMs: fault.atMs,
        });
    }

    /** Seconds from the fault to the first firing of the expected alert about its cluster; undefined if none. */
    private detectedAfter(e: ScenarioAlerts["expected"][number]): number | undefined {
        const since = this.ctx.rec.start + e.faultAtMs;
        const first = this.monitoring.watcher
            .all()
            .filter((r) => r.alert === e.spec.alert && r.labels.cluster === e.cluster && r.firingAtMs !== undefined && r.firingAtMs >= since)
            .map((r) => r.firingAtMs!)
            .sort((a, b) => a - b)[0];
        return first === undefined ? undefined : (first - since) / 1000;
    }

    /** An alert the fault does not make the rules fire in the scaled time, and why (a report note). */
    notExpected(alert: AlertName | "any", why: string): void {
        this.ctx.rec.notes.push(`Alert not expected: ${alert === "any" ? "none" : alert}: ${why}`);
    }

    /** Waits until every expected alert fired or its bound passed (the scenario ends no earlier). */
    async settle(): Promise<void> {
        const { rec } = this.ctx;
        const pending = () => this.expected.filter((e) => this.detectedAfter(e) === undefined);
        const deadline = Math.max(0, ...this.expected.map((e) => e.faultAtMs + e.spec.withinSeconds * 1000 + 1000));
        if (pending().length === 0 || rec.now() > deadline) return;
        await rec.step(`wait for the expected alerts (${pending().map((e) => e.spec.alert).join(", ")})`, async () => {
            while (pending().length > 0 && rec.now() < deadline) {
                await this.monitoring.watcher.poll();
                await new Promise((r) => setTimeout(r, POLL_MS));
            }
        });
    }

    /** What fired (also put on the timeline) and the expected alerts' detection times, for Measurement.alerts. */
    async measurement(): Promise<NonNullable<Measurement["alerts"]>> {
        const { rec } = this.ctx;
        await this.settle();
        await this.monitoring.watcher.poll();
        // The healthy phase: from the metrics being in until the first fault (the whole run when there is none).
        const faultMs = rec.events.filter((e) => e.kind === "disaster" && e.atMs >= this.healthyFromMs).map((e) => e.atMs)[0];
        const healthyTo = faultMs ?? rec.now();
        rec.notes.push(
            `Healthy phase judged for alerts: +${(this.healthyFromMs / 1000).toFixed(1)} s to +${(healthyTo / 1000).toFixed(1)} s ` +
                `(${faultMs === undefined ? "the whole run: no fault" : "the first fault"}); Prometheus scrapes and evaluates every ${MONITORING_INTERVAL_SECONDS} s.`,
        );
        const firings = this.monitoring.watcher
            .all()
            .filter((r) => r.firingAtMs !== undefined)
            .map((r) => {
                const firedAtMs = r.firingAtMs! - rec.start;
                return {
                    alert: r.alert,
                    firedAtMs,
                    afterFaultSeconds: faultMs !== undefined && firedAtMs >= faultMs ? (firedAtMs - faultMs) / 1000 : undefined,
                    inHealthyPhase: firedAtMs >= this.healthyFromMs && firedAtMs <= healthyTo,
                    labels: r.labels,
                };
            });
        for (const f of firings) rec.events.push({ atMs: f.firedAtMs, label: `alert ${f.alert} (${f.labels.cluster ?? "?"})`, kind: "alert" });
        return {
            firings,
            expected: this.expected.map((e) => ({ ...e.spec, detectedAfterSeconds: this.detectedAfter(e) })),
        };
    }
}

/**
 * A base backup; of the standby, the primary's WAL keeps moving meanwhile. On a standby with
 * archive_mode=always, pg_backup_stop waits until the backup's last segment is archived, and that
 * segment completes only when the primary switches; an idle primary never does (PostgreSQL's
 * archive_timeout skips a switch when nothing was written). In production the primary's heartbeat
 * (components/monitoring/heartbeat.ts) writes continuously; here a write and a switch each archive_timeout.
 */
async function backupWithWalMoving(t: Topology, cluster: Cluster): Promise<void> {
    if (cluster === "primary") return t.baseBackup("primary");
    let done = false;
    const nudge = (async () => {
        while (!done) {
            await new Promise((r) => setTimeout(r, t.settings.archiveTimeoutSeconds * 1000));
            if (!done) await t.primary.query("SELECT txid_current()").then(() => t.primary.query("SELECT pg_switch_wal()")).catch(() => undefined);
        }
    })();
    try {
        await t.baseBackup("standby");
    } finally {
        done = true;
        await nudge;
    }
}

/** The one call a scenario makes after starting its topology. */
export function watchAlerts(ctx: ScenarioContext, t: Topology): Promise<ScenarioAlerts> {
    return ScenarioAlerts.start(ctx, t);
}
