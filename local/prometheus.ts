// A real Prometheus server (Debian's `prometheus`, 2.42) for the drill and the tests: scrapes the
// given targets and a Pushgateway, evaluates the given rule groups, on a short interval, with its
// own throwaway TSDB. Targets can be changed while it runs (the config is rewritten and reloaded),
// since the drill starts servers as scenarios go.

import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { HttpDaemon } from "./httpDaemon";
import { Tool } from "./tools";

export const PROMETHEUS: Tool = { command: "prometheus", install: "apt-get install -y prometheus" };

const CONFIG_FILE = "prometheus.yml";
const RULES_FILE = "rules.yml";

/** A scrape target standing for a pod: its address and the labels a PodMonitor scrape would give it. */
export interface ScrapeTarget {
    /** host:port of a /metrics endpoint. */
    address: string;
    labels: Record<string, string>;
}

export interface PrometheusOptions {
    /** Exporter targets (scraped as job "cnpg"). */
    targets: ScrapeTarget[];
    /** host:port of a Pushgateway, scraped with honor_labels (the pushed job/instance labels are kept). */
    pushgateway?: string;
    /** Rule groups, as the program generates them ({ groups: [...] }). */
    rules: { groups: unknown[] };
    /** Scrape and rule evaluation interval (default 1 s). */
    intervalSeconds?: number;
    /** Labels the exporter adds that the real producer does not (dropped after the scrape). */
    dropLabels?: string[];
}

/** One entry of /api/v1/alerts. */
export interface PrometheusAlert {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    state: "pending" | "firing";
    /** When the alert's expression first became true (RFC 3339). */
    activeAt: string;
    value: string;
}

export class PrometheusServer {
    private constructor(
        private readonly daemon: HttpDaemon,
        private options: PrometheusOptions,
    ) {}

    get url(): string {
        return this.daemon.url;
    }

    get pid(): number {
        return this.daemon.pid;
    }

    static configYaml(o: PrometheusOptions): string {
        const interval = `${o.intervalSeconds ?? 1}s`;
        const dropped = (o.dropLabels ?? []).length === 0 ? {} : { metric_relabel_configs: [{ action: "labeldrop", regex: o.dropLabels!.join("|") }] };
        const scrapeConfigs: Record<string, unknown>[] = [
            {
                job_name: "cnpg",
                static_configs: o.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
                ...dropped,
            },
        ];
        if (o.pushgateway) {
            scrapeConfigs.push({ job_name: "pushgateway", honor_labels: true, static_configs: [{ targets: [o.pushgateway] }] });
        }
        return stringify({
            global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
            rule_files: [RULES_FILE],
            scrape_configs: scrapeConfigs,
        });
    }

    static async start(options: PrometheusOptions): Promise<PrometheusServer> {
        const daemon = await HttpDaemon.start({
            name: "prometheus",
            tool: PROMETHEUS,
            files: () => ({ [CONFIG_FILE]: PrometheusServer.configYaml(options), [RULES_FILE]: stringify(options.rules, { lineWidth: 0 }) }),
            args: (port, dir) => [
                `--config.file=${path.join(dir, CONFIG_FILE)}`,
                `--storage.tsdb.path=${path.join(dir, "data")}`,
                `--web.listen-address=127.0.0.1:${port}`,
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            readyPath: "/-/ready",
        });
        return new PrometheusServer(daemon, options);
    }

    /** Replaces the scrape targets and reloads the config (POST /-/reload). */
    async setTargets(targets: ScrapeTarget[]): Promise<void> {
        this.options = { ...this.options, targets };
        fs.writeFileSync(path.join(this.daemon.dir, CONFIG_FILE), PrometheusServer.configYaml(this.options));
        const res = await fetch(`${this.url}/-/reload`, { method: "POST" });
        const body = await res.text();
        if (res.status !== 200) {
            throw new Error(`Prometheus refused the new config (${res.status}): ${body}\n${this.daemon.logTail()}`);
        }
    }

    /** Replaces the rule groups and reloads (rules loaded this way start with no pending state). */
    async setRules(rules: { groups: unknown[] }): Promise<void> {
        this.options = { ...this.options, rules };
        fs.writeFileSync(path.join(this.daemon.dir, RULES_FILE), stringify(rules, { lineWidth: 0 }));
        const res = await fetch(`${this.url}/-/reload`, { method: "POST" });
        const body = await res.text();
        if (res.status !== 200) {
            throw new Error(`Prometheus refused the new rules (${res.status}): ${body}\n${this.daemon.logTail()}`);
        }
    }

    private async api<T>(pathAndQuery: string): Promise<T> {
        const res = await fetch(`${this.url}${pathAndQuery}`);
        const body = (await res.json()) as { status: string; data: T; error?: string };
        if (body.status !== "success") {
            throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
        }
        return body.data;
    }

    /** Active (pending or firing) alerts. */
    async alerts(): Promise<PrometheusAlert[]> {
        return (await this.api<{ alerts: PrometheusAlert[] }>("/api/v1/alerts")).alerts;
    }

    /** An instant query: each series' labels and value. */
    async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
        const data = await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    }

    /** Health of each scrape target ("up"/"down") with its last error. */
    async targets(): Promise<{ job: string; address: string; health: string; lastError: string }[]> {
        const data = await this.api<{ activeTargets: { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }[] }>("/api/v1/targets");
        return data.activeTargets.map((t) => ({ job: t.labels.job, address: new URL(t.scrapeUrl).host, health: t.health, lastError: t.lastError }));
    }

    logTail(lines?: number): string {
        return this.daemon.logTail(lines);
    }

    async stop(): Promise<void> {
        await this.daemon.stop();
    }
}
