// The drill's monitoring, put together: a real Prometheus evaluating the stack's generated alert
// rules (scaled by the drill's time scale), one prometheus-postgres-exporter per PostgreSQL server
// running CloudNativePG's default queries (labelled as the PodMonitor scrape of that pod would be),
// a real Pushgateway for the jobs' results (give the jobs PUSHGATEWAY_URL = pushgatewayUrl), and an
// AlertWatcher recording what fired when. Every daemon runs in its own process group; stop() ends them all.
//
// Which alerts can be proven here is said by coverage(): kube-state-metrics' have no local producer
// (no Kubernetes) and are not faked; the instance manager's archive counters and the Barman Cloud
// plugin's backup timestamps are emulated from the real state they describe, and coverage() says so.

import { RuleGroup } from "../../components/monitoring/alertRules";
import { DrConfig } from "../../config";
import { HttpDaemon } from "../../local/httpDaemon";
import { LocalPostgres } from "../../local/postgres";
import { startPostgresExporter } from "../../local/postgresExporter";
import { PrometheusServer, ScrapeTarget } from "../../local/prometheus";
import { startPushgateway } from "../../local/pushgatewayServer";
import { AlertWatcher } from "./alertWatcher";
import { BarmanBackup, PLUGIN_METRIC_PREFIX, pushPluginMetrics } from "./barmanCloudPlugin";
import { exporterMetricNames, exporterQueriesFile } from "./cnpgQueries";
import { alertMetrics, RaisedFor, scaledAlertRuleGroups } from "./rules";

/** The labels a PodMonitor scrape gives a CloudNativePG pod's metrics, the ones the rules select on. */
export interface PodLabels {
    namespace: string;
    pod: string;
}

/** CloudNativePG names a cluster's pods <cluster>-<n>, n from 1. */
export function podLabels(config: DrConfig, cluster: string, ordinal = 1): PodLabels {
    return { namespace: config.kubernetes.namespace, pod: `${cluster}-${ordinal}` };
}

/** postgres_exporter labels every custom-query metric with server="host:port"; CloudNativePG does not. */
const EXPORTER_ONLY_LABELS = ["server"];

/** Producers the drill cannot run, by metric name prefix, and why. */
const NO_LOCAL_PRODUCER: { prefix: string; producer: string }[] = [{ prefix: "kube_", producer: "kube-state-metrics (no Kubernetes locally)" }];

/** Metrics the drill emulates from the real state they describe (see the modules named). */
const EMULATED: { prefix: string; by: string }[] = [
    { prefix: "cnpg_collector_", by: "the instance manager's counters, in SQL (cnpgQueries.ts INSTANCE_MANAGER_EMULATION)" },
    { prefix: PLUGIN_METRIC_PREFIX, by: "the Barman Cloud plugin, from the bucket's backup catalog (barmanCloudPlugin.ts, pushed after each base backup)" },
];

/** Metrics the backup and verification jobs push (scripts/lib.sh publish_metrics). */
const JOB_METRIC_PREFIX = "drstack_";

export interface AlertCoverage {
    alert: string;
    metrics: string[];
    /** Every metric has a local producer, so the drill can make this alert fire for real. */
    provable: boolean;
    /** Metrics with no local producer, and which producer that would be. */
    missing: { metric: string; producer: string }[];
    /** Metrics the drill emulates, and from what. */
    emulated: { metric: string; by: string }[];
}

/** Which alerts' metrics the drill produces: CloudNativePG's via the exporter, the jobs' via the Pushgateway. */
export function alertCoverage(groups: RuleGroup[], exporterMetrics: string[]): AlertCoverage[] {
    const exported = new Set(exporterMetrics);
    return alertMetrics(groups).map(({ alert, metrics }) => {
        const emulated = metrics.flatMap((metric) => EMULATED.filter((e) => metric.startsWith(e.prefix)).map((e) => ({ metric, by: e.by })));
        const missing = metrics
            .filter((m) => !exported.has(m) && !m.startsWith(JOB_METRIC_PREFIX) && !m.startsWith(PLUGIN_METRIC_PREFIX))
            .map((metric) => ({
                metric,
                producer:
                    NO_LOCAL_PRODUCER.find((p) => metric.startsWith(p.prefix))?.producer ??
                    "nothing: no CloudNativePG query or emulated instance-manager metric has this name (a rule bug?)",
            }));
        return { alert, metrics, provable: missing.length === 0, missing, emulated };
    });
}

export interface MonitoringStackOptions {
    config: DrConfig;
    /** The peer stack's config: its rules are evaluated too (the drill runs both regions' clusters). */
    peerConfig?: DrConfig;
    /** Floor for each scaled `for:`, per alert (scaledAlertRuleGroups); default 0. */
    minForSeconds?: number | ((alert: string) => number);
    /** Production seconds per drill second (drill --time-scale). */
    timeScale: number;
    /** Scrape and evaluation interval in seconds (default 1). */
    intervalSeconds?: number;
    /** Alert poll interval (default 250 ms). */
    pollMs?: number;
    /** Start with no rules; loadRules() loads them once the targets are scraped (absent() rules then start clean). */
    deferRules?: boolean;
}

export class MonitoringStack {
    private readonly exporters = new Map<string, { daemon: HttpDaemon; target: ScrapeTarget }>();
    private exporterMetrics: string[] = [];
    /** What differs from a real cluster's collection (from the query conversion), for the report. */
    readonly notes = new Set<string>();

    private constructor(
        public rules: { groups: RuleGroup[]; raised: RaisedFor[] },
        private readonly options: MonitoringStackOptions,
        readonly prometheus: PrometheusServer,
        readonly pushgateway: HttpDaemon,
        readonly watcher: AlertWatcher,
    ) {}

    /** The URL the jobs push to (their PUSHGATEWAY_URL). */
    get pushgatewayUrl(): string {
        return this.pushgateway.url;
    }

    /** Starts the Pushgateway, Prometheus (no PostgreSQL targets yet) and the alert watcher. */
    static async start(options: MonitoringStackOptions): Promise<MonitoringStack> {
        const rules = MonitoringStack.scaledRules(options, options.minForSeconds ?? 0);
        const pushgateway = await startPushgateway();
        try {
            const prometheus = await PrometheusServer.start({
                targets: [],
                pushgateway: new URL(pushgateway.url).host,
                rules: { groups: options.deferRules ? [] : rules.groups },
                intervalSeconds: options.intervalSeconds,
                dropLabels: EXPORTER_ONLY_LABELS,
            });
            const watcher = new AlertWatcher({ fetchAlerts: () => prometheus.alerts(), intervalMs: options.pollMs }).start();
            return new MonitoringStack(rules, options, prometheus, pushgateway, watcher);
        } catch (err) {
            await pushgateway.stop();
            throw err;
        }
    }

    /** The stack's (and the peer's) rules, scaled, with `for:` floored at `minForSeconds`. */
    private static scaledRules(options: MonitoringStackOptions, minForSeconds: NonNullable<MonitoringStackOptions["minForSeconds"]>): MonitoringStack["rules"] {
        const scaled = [options.config, ...(options.peerConfig ? [options.peerConfig] : [])].map((c) => scaledAlertRuleGroups(c, options.timeScale, minForSeconds));
        return { groups: scaled.flatMap((r) => r.groups), raised: scaled.flatMap((r) => r.raised) };
    }

    /** Loads the scaled rules (after a start with deferRules), with `for:` floored at `minForSeconds` when given. */
    async loadRules(minForSeconds?: NonNullable<MonitoringStackOptions["minForSeconds"]>): Promise<void> {
        if (minForSeconds !== undefined) this.rules = MonitoringStack.scaledRules(this.options, minForSeconds);
        await this.prometheus.setRules({ groups: this.rules.groups });
    }

    /** Starts an exporter for `server`, scraped as pod `labels.pod`; resolves once Prometheus scrapes it. */
    async addServer(server: LocalPostgres, labels: PodLabels): Promise<void> {
        if (this.exporters.has(labels.pod)) {
            throw new Error(`pod ${labels.pod} is already monitored`);
        }
        const version = (await server.query<{ server_version: string }>("SHOW server_version"))[0].server_version;
        const file = exporterQueriesFile(version);
        file.notes.forEach((n) => this.notes.add(n));
        this.exporterMetrics = exporterMetricNames(file.queries);
        const daemon = await startPostgresExporter({ server, queriesYaml: file.yaml, name: `exporter-${labels.pod}` });
        const target: ScrapeTarget = { address: new URL(daemon.url).host, labels: { ...labels } };
        this.exporters.set(labels.pod, { daemon, target });
        try {
            await this.prometheus.setTargets([...this.exporters.values()].map((e) => e.target));
        } catch (err) {
            this.exporters.delete(labels.pod);
            await daemon.stop();
            throw err;
        }
    }

    /** Stops the exporter of a pod (its metrics go stale, as when a pod is gone). */
    async removeServer(pod: string): Promise<void> {
        const entry = this.exporters.get(pod);
        if (!entry) {
            return;
        }
        this.exporters.delete(pod);
        await this.prometheus.setTargets([...this.exporters.values()].map((e) => e.target));
        await entry.daemon.stop();
    }

    /** Publishes the emulated Barman Cloud plugin metrics of a pod from its backup catalog (readBackupCatalog). */
    async publishBackupCatalog(pod: PodLabels, backups: BarmanBackup[]): Promise<void> {
        await pushPluginMetrics(this.pushgatewayUrl, pod, backups);
    }

    /** Which alerts the drill can prove, and what the others lack. */
    coverage(): AlertCoverage[] {
        return alertCoverage(this.rules.groups, this.exporterMetrics);
    }

    /** Stops the watcher and every daemon (each its whole process group), even if one stop fails. */
    async stop(): Promise<void> {
        await this.watcher.stop().catch(() => undefined);
        const stops = [...this.exporters.values()].map((e) => e.daemon.stop());
        this.exporters.clear();
        await Promise.allSettled([...stops, this.prometheus.stop(), this.pushgateway.stop()]);
    }
}
