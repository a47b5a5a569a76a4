// Which alerts fired and when, as a scenario needs it: polls Prometheus' /api/v1/alerts and keeps,
// per alert episode (name + labels + activeAt), when it became active and when it was first seen firing. A scenario marks
// its fault time and asks "how long after it did X fire" (time to detect), and "did anything fire
// in this healthy window". Times are epoch milliseconds of this process's clock.

import { PrometheusAlert } from "../../local/prometheus";

export interface AlertRecord {
    alert: string;
    /** Every label of the alert (rule labels and the series'), alertname included. */
    labels: Record<string, string>;
    /** Prometheus' activeAt: when the expression first became true (start of `for:`). */
    activeAtMs: number;
    /** When a poll first saw it firing; undefined while only pending. */
    firingAtMs?: number;
    /** When a poll last saw it active (pending or firing). */
    lastSeenAtMs: number;
}

export interface AlertWatcherOptions {
    /** Reads the active alerts (PrometheusServer.alerts). */
    fetchAlerts: () => Promise<PrometheusAlert[]>;
    /** Poll interval (default 250 ms: detection times are exact to that much). */
    intervalMs?: number;
    now?: () => number;
}

/** The identity of an alert instance: its name and all its labels, in a stable order. */
export function alertKey(labels: Record<string, string>): string {
    return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

export class AlertWatcher {
    private readonly records = new Map<string, AlertRecord>();
    private timer: NodeJS.Timeout | undefined;
    private polling: Promise<void> | undefined;
    /** Polls that failed (Prometheus busy or restarting); the last error is kept for the report. */
    failedPolls = 0;
    lastError: string | undefined;
    private readonly now: () => number;

    constructor(private readonly options: AlertWatcherOptions) {
        this.now = options.now ?? Date.now;
    }

    start(): this {
        if (!this.timer) {
            this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 250);
        }
        return this;
    }

    /** Stops polling after one last poll. */
    async stop(): Promise<void> {
        if (this.timer) {
            clearInterval(this.timer);
            this.timer = undefined;
        }
        await this.poll();
    }

    /** One poll (also what the timer runs); concurrent calls share it. */
    poll(): Promise<void> {
        this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
        return this.polling;
    }

    private async pollOnce(): Promise<void> {
        let alerts: PrometheusAlert[];
        try {
            alerts = await this.options.fetchAlerts();
        } catch (err) {
            this.failedPolls++;
            this.lastError = (err as Error).message;
            return;
        }
        const seenAt = this.now();
        for (const a of alerts) {
            // An alert that resolved and became active again has a new activeAt: a new episode.
            const key = `${alertKey(a.labels)}@${a.activeAt}`;
            const activeAtMs = Date.parse(a.activeAt);
            let record = this.records.get(key);
            if (!record) {
                record = { alert: a.labels.alertname, labels: a.labels, activeAtMs, lastSeenAtMs: seenAt };
                this.records.set(key, record);
            }
            record.lastSeenAtMs = seenAt;
            if (a.state === "firing" && record.firingAtMs === undefined) {
                record.firingAtMs = seenAt;
            }
        }
    }

    /** Every alert episode seen so far, in order of activity. */
    all(): AlertRecord[] {
        return [...this.records.values()].sort((a, b) => a.activeAtMs - b.activeAtMs);
    }

    /** Alert instances first seen firing in [fromMs, toMs] (a healthy window must have none). */
    firedBetween(fromMs: number, toMs = Infinity): AlertRecord[] {
        return this.all().filter((r) => r.firingAtMs !== undefined && r.firingAtMs >= fromMs && r.firingAtMs <= toMs);
    }

    /** The first instance of `alert` seen firing at or after `sinceMs`. */
    firstFiring(alert: string, sinceMs = 0): AlertRecord | undefined {
        return this.all()
            .filter((r) => r.alert === alert && r.firingAtMs !== undefined && r.firingAtMs >= sinceMs)
            .sort((a, b) => a.firingAtMs! - b.firingAtMs!)[0];
    }

    /** Seconds from `faultAtMs` until `alert` was first seen firing; undefined if it has not fired. */
    timeToDetect(alert: string, faultAtMs: number): number | undefined {
        const r = this.firstFiring(alert, faultAtMs);
        return r ? (r.firingAtMs! - faultAtMs) / 1000 : undefined;
    }

    /** Waits until `alert` fires at or after `sinceMs`; throws after `timeoutMs` naming what is active. */
    async waitForFiring(alert: string, sinceMs: number, timeoutMs: number): Promise<AlertRecord> {
        const deadline = this.now() + timeoutMs;
        for (;;) {
            await this.poll();
            const r = this.firstFiring(alert, sinceMs);
            if (r) {
                return r;
            }
            if (this.now() > deadline) {
                const active = this.all().map((a) => `${a.alert}${a.firingAtMs ? " (firing)" : " (pending)"}`);
                throw new Error(
                    `${alert} did not fire within ${timeoutMs} ms; alerts seen: ${active.join(", ") || "none"}` +
                        (this.lastError ? `; last poll error: ${this.lastError}` : ""),
                );
            }
            await new Promise((resolve) => setTimeout(resolve, this.options.intervalMs ?? 250));
        }
    }
}
