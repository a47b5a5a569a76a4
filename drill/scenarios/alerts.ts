// The drill's alerting, per scenario (issue 12 item 9). A scenario calls watchAlerts() right after
// its servers start (it starts Prometheus, the Pushgateway and one postgres_exporter per server in the
// background) and `await alerts.healthy()` once its deployed state is in place: after the base backup
// the scenario takes anyway (the ScheduledBackup's immediate one), or after the one healthy() takes
// itself when the scenario has none (`backup: "take"`, overlapped with the monitoring start). healthy()
// publishes the Barman Cloud plugin's metrics from the real catalog, waits until every pod's metrics
// are in, and only then loads the rules: loaded earlier, an absent() rule would count a cluster that
// does not exist yet. The healthy phase runs from there to the first "disaster" event (to the end if
// there is none): anything firing in it is a FAIL, and so is an expected alert that did not fire
// within its bound (result.ts judges). The scenario ends with `alerts: await alerts.measurement()`.
//
// Timing (Prometheus docs, "Alerting rules": the condition must hold at every evaluation for `for:`):
// a condition true at T is scraped by T + interval, evaluated by + interval, and fires at the first
// evaluation after `for:`, by + interval; the watcher polls every POLL_MS: SAMPLING_SECONDS. What the
// drill does in real time is not scaled: one barman-cloud-wal-archive run (a Python start and the
// upload) takes up to seconds, while the scaled `for:` of the archive rules is below a second at 1:90.
// So the run is measured at start-up (archiveRuns.ts) and the scaled `for:` floored at that plus one
// scrape and one evaluation; the report note names what was measured and used.
import { parseConfig, readStackConfig } from "../../config";
import { LocalPostgres } from "../../local/postgres";
import { MotoServer } from "../../local/motoServer";
import { ALERT, AlertName } from "../../model/alertCatalog";
import { EXTERNAL_METRICS } from "../../model/contract";
import { parseDuration } from "../../model/duration";
import { baseBackupOptionsOf } from "../declared";
import { barmanBaseBackup, LocalDeployment } from "../localDeployment";
import { BarmanBackup, readBackupCatalog } from "../monitoring/barmanCloudPlugin";
import { MonitoringStack, podLabels } from "../monitoring/stack";
import { declaredTopologyOf, Topology } from "../topology";
import { ExpectedAlert } from "../types";
import { ArchiveRuns, forFloors, measureArchiveRuns, ReadyWaitSampler } from "./archiveRuns";
import { Measurement, ScenarioContext, waitUntil } from "./scenario";

/** Scrape and evaluation interval of the drill's Prometheus, seconds. */
export const MONITORING_INTERVAL_SECONDS = 1;
const POLL_MS = 250;
/** How late the drill sees a condition: one scrape, two evaluations, one poll. */
export const SAMPLING_SECONDS = 3 * MONITORING_INTERVAL_SECONDS + POLL_MS / 1000;

export type Role = "primary" | "standby";

/** One monitored cluster: its (only) instance, its barman server name and its own bucket. */
export interface WatchedCluster {
    role: Role;
    server: LocalPostgres;
    serverName: string;
    bucket: string;
}

export interface WatchOptions {
    clusters: WatchedCluster[];
    moto: MotoServer;
    /**
     * "take": healthy() takes the primary's immediate base backup (the scenario has none);
     * "taken": the scenario took it before healthy(); "none": the stack declares no immediate backup (the plugin reports 0).
     */
    backup: "take" | "taken" | "none";
}

export class ScenarioAlerts {
    private readonly expected: { spec: Omit<ExpectedAlert, "met" | "detectedAfterSeconds">; cluster: string; faultAtMs: number }[] = [];
    private monitoring: MonitoringStack | undefined;
    /** ms since the scenario start when the rules were loaded: the healthy phase starts. */
    private healthyFromMs: number | undefined;
    private readonly starting: Promise<void>;
    private runs: ArchiveRuns | undefined;
    private readyWait: ReadyWaitSampler | undefined;

    constructor(
        private readonly ctx: ScenarioContext,
        private readonly o: WatchOptions,
    ) {
        this.starting = this.start();
        // healthy() awaits it; a failure before that must not be an unhandled rejection.
        this.starting.catch(() => undefined);
    }

    private cluster(role: Role): WatchedCluster {
        const c = this.o.clusters.find((x) => x.role === role);
        if (!c) throw new Error(`no ${role} cluster is monitored in this scenario`);
        return c;
    }

    /** The URL the scenario's jobs push to (their PUSHGATEWAY_URL). */
    get pushgatewayUrl(): string {
        if (!this.monitoring) throw new Error("the monitoring stack has not started: await alerts.healthy() first");
        return this.monitoring.pushgatewayUrl;
    }

    /** Prometheus, the Pushgateway and the exporters (in the background, from the constructor). */
    private async start(): Promise<void> {
        const { settings: s, rec, teardown } = this.ctx;
        await rec.step("alerts: start Prometheus, the Pushgateway, postgres_exporter", async () => {
            // The declared pair, read once per process when the settings do not carry it (the bench's do not).
            const peer = (await declaredTopologyOf(s)).stacks.find((name) => name !== s.stack);
            const m = await MonitoringStack.start({
                config: s.config,
                // The peer's rules only when its cluster runs here; without it they would (rightly) page about a missing standby.
                peerConfig: peer && this.o.clusters.some((c) => c.role === "standby") ? (s.peerConfig ?? parseConfig(readStackConfig(peer), peer)) : undefined,
                timeScale: s.timeScale,
                intervalSeconds: MONITORING_INTERVAL_SECONDS,
                pollMs: POLL_MS,
                deferRules: true,
            });
            teardown.add("stop monitoring", () => m.stop());
            this.monitoring = m;
            for (const c of this.o.clusters) await m.addServer(c.server, podLabels(s.config, c.serverName));
        });
    }

    /**
     * The deployed state is in place: publish the catalogs, wait for every pod's metrics, load the
     * rules (with the measured floors). The healthy phase starts when this returns.
     */
    async healthy(): Promise<void> {
        const { settings: s, rec } = this.ctx;
        const primary = this.cluster("primary");
        // A healthy archiver archives a forced switch within seconds; a broken one never does (sabotage), and
        // before "take" the backup waits for the answer. After the scenario's own backup, archiving works.
        const waitMs = this.o.backup === "take" ? Math.min(s.archiveWaitMs, 30000) : s.archiveWaitMs;
        const measure = () => rec.step("alerts: time barman-cloud-wal-archive runs on the primary", () => measureArchiveRuns(primary.server, waitMs));
        let runs: ArchiveRuns;
        let backup: Promise<void> | undefined;
        if (this.o.backup === "take") {
            // Timed before the backup: its checkpoint and uploads slow the archiver (runs of 6.6 s and 16.8 s timed
            // alongside one, 2 to 4 s without), and pg_backup_stop would wait forever for a broken archiver.
            runs = await measure();
            if (runs.failure) rec.notes.push(`The primary's immediate base backup is not taken: archiving does not work (${runs.failure}), and pg_backup_stop would wait for it forever.`);
            else {
                // With the options the primary's declared ObjectStore gives barman-cloud-backup.
                const options = baseBackupOptionsOf(await declaredTopologyOf(s), primary.serverName);
                backup = rec.step("alerts: immediate base backup of the primary (its ScheduledBackup declares immediate: true; the scenario takes none)", () =>
                    barmanBaseBackup(primary.server, this.o.moto.endpoint, primary.bucket, primary.serverName, options),
                );
            }
        }
        await this.starting;
        const m = this.monitoring!;
        const published = rec.step("alerts: publish the backup catalog, wait for every pod's metrics", async () => {
            await backup;
            // The plugin reports the recovery window from the catalog, 0 when it is empty (barmanCloudPlugin.ts).
            let catalog: BarmanBackup[] = [];
            if (this.ctx.sabotage.pluginSeesNoBackup) rec.notes.push("Sabotage: the emulated Barman Cloud plugin reports no backup, although the catalog holds one.");
            else catalog = await readBackupCatalog({ endpointUrl: this.o.moto.endpoint, bucket: primary.bucket, serverName: primary.serverName, env: this.o.moto.awsEnv() });
            await m.publishBackupCatalog(podLabels(s.config, primary.serverName), catalog);
            for (const c of this.o.clusters) {
                const pod = podLabels(s.config, c.serverName).pod;
                const metrics = [EXTERNAL_METRICS.archiveAge, ...(c.role === "primary" ? [EXTERNAL_METRICS.lastAvailableBackup] : [])];
                for (const metric of metrics) {
                    await waitUntil(`${metric} of ${pod} in Prometheus`, async () => (await m.prometheus.query(`${metric}{pod="${pod}"}`)).length > 0, 60000);
                }
            }
        });
        // "taken": timed after the scenario's own backup, under its load, while Prometheus scrapes the pods.
        if (this.o.backup !== "take") [runs] = await Promise.all([measure(), published]);
        else await published;
        this.runs = runs!;
        const floors = forFloors(runs!, MONITORING_INTERVAL_SECONDS, s.archiveTimeoutSeconds);
        await rec.step("alerts: load the rules", () => m.loadRules(floors.floor));
        rec.notes.push(floors.note);
        for (const r of m.rules.raised) {
            rec.notes.push(`${r.alert} (${r.cluster}): for: ${r.scaledSeconds.toFixed(2)} s when scaled, raised to ${r.usedSeconds.toFixed(1)} s (see the archive-run note).`);
        }
        if (this.o.clusters.some((c) => c.role === "standby")) {
            rec.notes.push(
                "The standby's Barman Cloud plugin metrics are not emulated: the drill takes no base backup of the replica cluster (its ScheduledBackup's), " +
                    "so DrBaseBackupMetricsAbsent about it would fire after its scaled for:, longer than the healthy phase.",
            );
        }
        m.notes.forEach((n) => rec.notes.push(n));
        const sampler = new ReadyWaitSampler(primary.server);
        this.ctx.teardown.add("stop sampling the archive's ready segments", () => sampler.stop());
        this.readyWait = sampler;
        this.healthyFromMs = rec.now();
    }

    /**
     * The drill's WAL upload allowance so far: the scaled one (drstack:walUploadAllowance / time scale), or the
     * longest archive wait measured (the start-up runs, and segments ready since) when that is longer: an upload
     * takes real time, whatever the scale.
     */
    uploadAllowanceSeconds(): { seconds: number; why: string } {
        const scaled = this.ctx.settings.uploadAllowanceSeconds;
        const startup = Math.max(0, ...(this.runs?.seconds ?? []));
        const since = this.readyWait?.longestSeconds ?? 0;
        const longest = Math.max(startup, since);
        return longest > scaled
            ? {
                  seconds: longest,
                  why: `the longest archive wait measured: ${startup.toFixed(1)} s at start-up, ${since.toFixed(1)} s for a ready segment since (the scaled allowance, ${scaled.toFixed(1)} s, is shorter than an upload takes here)`,
              }
            : { seconds: scaled, why: "scaled" };
    }

    /** The effective `for:` (scaled, floored) of an alert's rule about a cluster, seconds. */
    forSeconds(alert: AlertName, role: Role): number {
        const name = this.cluster(role).serverName;
        const rule = this.monitoring?.rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert && r.labels.cluster === name);
        if (!rule) throw new Error(`no ${alert} rule about cluster ${name} in the drill's rules`);
        return /ms$/.test(rule.for) ? Number(rule.for.slice(0, -2)) / 1000 : parseDuration(rule.for)!;
    }

    /**
     * The fault must fire `alert` about the `role` cluster: its condition holds at the latest `onsetSeconds`
     * after the fault (`onset` says why); the bound is that plus the rule's `for:` plus SAMPLING_SECONDS.
     */
    expect(alert: AlertName, role: Role, fault: { atMs: number; name: string }, onsetSeconds: number, onset: string): void {
        const forSeconds = this.forSeconds(alert, role);
        this.expected.push({
            spec: {
                alert,
                withinSeconds: onsetSeconds + forSeconds + SAMPLING_SECONDS,
                limitName: `its bound after ${fault.name}: ${onset} ${onsetSeconds.toFixed(1)} s + for: ${forSeconds.toFixed(1)} s + sampling ${SAMPLING_SECONDS} s`,
            },
            cluster: this.cluster(role).serverName,
            faultAtMs: fault.atMs,
        });
    }

    /** An alert the fault does not make the rules fire in the scaled time, and why (a report note). */
    notExpected(alert: AlertName | "any", why: string): void {
        this.ctx.rec.notes.push(`Alert not expected: ${alert === "any" ? "none" : alert}: ${why}`);
    }

    /** Seconds from the fault to the first firing of the expected alert about its cluster; undefined if none. */
    private detectedAfter(e: ScenarioAlerts["expected"][number]): number | undefined {
        const since = this.ctx.rec.start + e.faultAtMs;
        const first = this.monitoring!.watcher.all()
            .filter((r) => r.alert === e.spec.alert && r.labels.cluster === e.cluster && r.firingAtMs !== undefined && r.firingAtMs >= since)
            .map((r) => r.firingAtMs!)
            .sort((a, b) => a - b)[0];
        return first === undefined ? undefined : (first - since) / 1000;
    }

    /** Waits until every expected alert fired or its bound passed (the scenario ends no earlier). */
    private async settle(): Promise<void> {
        const { rec } = this.ctx;
        const pending = () => this.expected.filter((e) => this.detectedAfter(e) === undefined);
        const deadline = Math.max(0, ...this.expected.map((e) => e.faultAtMs + e.spec.withinSeconds * 1000 + 1000));
        if (pending().length === 0 || rec.now() > deadline) return;
        await rec.step(`alerts: wait for the expected alerts (${pending().map((e) => e.spec.alert).join(", ")})`, async () => {
            while (pending().length > 0 && rec.now() < deadline) {
                await this.monitoring!.watcher.poll();
                await new Promise((r) => setTimeout(r, POLL_MS));
            }
        });
    }

    /** What fired (also put on the timeline) and the expected alerts' detection times, for Measurement.alerts. */
    async measurement(): Promise<NonNullable<Measurement["alerts"]>> {
        const { rec } = this.ctx;
        if (this.healthyFromMs === undefined || !this.monitoring) throw new Error("alerts.measurement() before alerts.healthy()");
        await this.readyWait?.stop();
        await this.settle();
        await this.monitoring.watcher.poll();
        const healthyFrom = this.healthyFromMs;
        const faultMs = rec.events.filter((e) => e.kind === "disaster" && e.atMs >= healthyFrom).map((e) => e.atMs)[0];
        const healthyTo = faultMs ?? rec.now();
        rec.notes.push(
            `Healthy phase judged for alerts: +${(healthyFrom / 1000).toFixed(1)} s to +${(healthyTo / 1000).toFixed(1)} s ` +
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
                    inHealthyPhase: firedAtMs >= healthyFrom && firedAtMs <= healthyTo,
                    labels: r.labels,
                };
            });
        for (const f of firings) rec.events.push({ atMs: f.firedAtMs, label: `alert ${f.alert} (${f.labels.cluster ?? "?"})`, kind: "alert" });
        return { firings, expected: this.expected.map((e) => ({ ...e.spec, detectedAfterSeconds: this.detectedAfter(e) })) };
    }
}

/** Starts the scenario's monitoring in the background; `await alerts.healthy()` before the healthy phase. */
export function watchAlerts(ctx: ScenarioContext, o: WatchOptions): ScenarioAlerts {
    return new ScenarioAlerts(ctx, o);
}

/** watchAlerts for a Topology's primary (and standby, when it runs one). */
export function watchTopology(ctx: ScenarioContext, t: Topology, backup: "take" | "taken"): ScenarioAlerts {
    const clusters: WatchedCluster[] = [{ role: "primary", server: t.primary, serverName: t.primaryServer, bucket: t.primaryBucket }];
    if (t.standby) clusters.push({ role: "standby", server: t.standby, serverName: t.standbyServer, bucket: t.standbyBucket });
    // Taken only as the primary's ScheduledBackup declares it (immediate: true).
    return watchAlerts(ctx, { clusters, moto: t.moto, backup: backup === "take" && !t.declared.immediateBackup.primary ? "none" : backup });
}

/**
 * What the rules define for a region loss, seen from the standby (the primary region's own Prometheus is
 * lost with it): DrStandbyNotStreaming (only declared with streaming) once the WAL receiver is gone;
 * its condition holds within a second of the link dropping (the receiver exits on the closed connection,
 * and a promoted standby has none). DrReplicaLagAboveRpo and DrStandbyNotReporting are not for this.
 */
export function expectRegionLossAlerts(alerts: ScenarioAlerts, streams: boolean, fault: { atMs: number; name: string }): void {
    if (streams) alerts.expect(ALERT.DrStandbyNotStreaming, "standby", fault, 1, "the WAL receiver exits on the dropped connection");
    alerts.notExpected(
        ALERT.DrReplicaLagAboveRpo,
        "CloudNativePG's pg_replication query reports a lag of 0 once the standby has replayed all it received, and after promotion (not in recovery): " +
            "a lost primary sends nothing more to fall behind (the loss itself is what DrStandbyNotStreaming reports).",
    );
    alerts.notExpected(
        ALERT.DrStandbyNotReporting,
        "the standby keeps reporting cnpg_pg_replication_lag (0 once promoted); it fires when the standby itself is down or not scraped.",
    );
    alerts.notExpected(
        ALERT.DrWalArchiveMetricsAbsent,
        "about the lost primary: its region's Prometheus is lost with it, so it pages nobody in production; listed among the fired alerts if the drill's one Prometheus fired it before the scenario ended.",
    );
}

/** watchAlerts for a deployment applied step by step (first-deployment, failback): its clusters as deployed, the primary's immediate backup taken by apply. */
export function watchDeployment(ctx: ScenarioContext, local: LocalDeployment): ScenarioAlerts {
    const clusters: WatchedCluster[] = [...local.regions.values()].flatMap((r) =>
        r.cluster && r.bucket ? [{ role: r.cluster.declared.writable ? ("primary" as const) : ("standby" as const), server: r.cluster.server, serverName: r.cluster.declared.name, bucket: r.bucket }] : [],
    );
    return watchAlerts(ctx, { clusters, moto: local.moto, backup: "taken" });
}
