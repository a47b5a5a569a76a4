// A labelled emulation of the Barman Cloud plugin's three metrics, derived from the real backup
// catalog in the bucket, for the drill (which runs barman-cloud as archive_command, not the plugin
// sidecar). Without it, DrBaseBackupMetricsAbsent would fire in every drill longer than its scaled
// `for:` and DrBaseBackupTooOld could never be proven.
//
// What the plugin does (plugin-barman-cloud v0.13.0, internal/cnpgi/instance/metrics.go and
// recovery_window.go): it exports barman_cloud_cloudnative_pg_io_first_recoverability_point,
// _last_available_backup_timestamp and _last_failed_backup_timestamp through the instance manager,
// as unix seconds from the ObjectStore's recovery window, and 0 when it knows none. The window is read
// from the catalog that barman-cloud-backup-list returns: first recoverability point = end time of
// the oldest DONE backup, last available = end time of the newest DONE backup (cloudnative-pg/barman-cloud,
// pkg/catalog). The failed-backup time comes from the plugin's own backup attempts, which the drill
// does not make through it: it stays 0 here.
// Published to the Pushgateway under job "barman-cloud-plugin-emulation", grouped by namespace and pod,
// so the series carry the pod labels the rules select on.

import { z } from "zod";
import { runChecked } from "../../local/processes";
import { PYTHON_TOOL_ENV, systemPath } from "../../local/tools";
import type { PodLabels } from "./stack";

/** The plugin's metric names: the plugin name with "." and "-" replaced by "_", then the metric. */
export const PLUGIN_METRIC_PREFIX = "barman_cloud_cloudnative_pg_io_";
export const EMULATION_JOB = "barman-cloud-plugin-emulation";

// barman 3.4 `barman-cloud-backup-list --format json`: {"backups_list": [BackupInfo.to_json()]};
// begin_time/end_time are datetime.ctime() strings ("Tue Nov 24 11:50:00 2026", no zone).
const backupList = z.object({
    backups_list: z.array(z.object({ backup_id: z.string(), status: z.string(), end_time: z.string().nullable().optional() }).passthrough()),
});

export type BarmanBackup = z.infer<typeof backupList>["backups_list"][number];

export function parseBackupList(json: string): BarmanBackup[] {
    const parsed = backupList.safeParse(JSON.parse(json));
    if (!parsed.success) {
        throw new Error(`unexpected barman-cloud-backup-list --format json output: ${parsed.error.message}`);
    }
    return parsed.data.backups_list;
}

/** A ctime() string as unix seconds, read in UTC (the drill's servers and tools run with TZ=UTC). */
export function ctimeSeconds(text: string): number {
    const m = /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(text.trim());
    const month = m ? ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].indexOf(m[1]) : -1;
    if (!m || month < 0) {
        throw new Error(`cannot read barman's time "${text}" (expected ctime format, e.g. "Tue Nov 24 11:50:00 2026")`);
    }
    return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
}

/** The plugin's metrics (Prometheus text format) for a backup catalog, in catalog order (oldest first). */
export function pluginMetricsText(backups: BarmanBackup[]): string {
    const done = backups.filter((b) => b.status === "DONE" && b.end_time).map((b) => ctimeSeconds(b.end_time!));
    const values: [string, string, number][] = [
        ["first_recoverability_point", "The first point of recoverability for the cluster as a unix timestamp", done.length ? Math.min(...done) : 0],
        ["last_available_backup_timestamp", "The last available backup as a unix timestamp", done.length ? Math.max(...done) : 0],
        ["last_failed_backup_timestamp", "The last failed backup as a unix timestamp (not emulated: always 0)", 0],
    ];
    return values.map(([name, help, value]) => `# HELP ${PLUGIN_METRIC_PREFIX}${name} ${help}\n# TYPE ${PLUGIN_METRIC_PREFIX}${name} gauge\n${PLUGIN_METRIC_PREFIX}${name} ${value}\n`).join("");
}

/** Replaces the pod's emulated plugin metrics on the Pushgateway (PUT: the whole group). */
export async function pushPluginMetrics(pushgatewayUrl: string, pod: PodLabels, backups: BarmanBackup[]): Promise<void> {
    const url = `${pushgatewayUrl.replace(/\/$/, "")}/metrics/job/${EMULATION_JOB}/namespace/${encodeURIComponent(pod.namespace)}/pod/${encodeURIComponent(pod.pod)}`;
    const res = await fetch(url, { method: "PUT", body: pluginMetricsText(backups) });
    const body = await res.text();
    if (!res.ok) {
        throw new Error(`push of the emulated Barman Cloud plugin metrics to ${url} failed (${res.status}): ${body}`);
    }
}

/** The catalog in the bucket, as the plugin reads it: barman-cloud-backup-list --format json. */
export async function readBackupCatalog(o: { endpointUrl: string; bucket: string; serverName: string; env: Record<string, string> }): Promise<BarmanBackup[]> {
    const result = await runChecked(
        "barman-cloud-backup-list",
        ["--format", "json", "--endpoint-url", o.endpointUrl, `s3://${o.bucket}/`, o.serverName],
        { env: { PATH: systemPath(), HOME: "/tmp", TZ: "UTC", ...PYTHON_TOOL_ENV, ...o.env }, timeoutMs: 60000 },
    );
    return parseBackupList(result.stdout);
}
