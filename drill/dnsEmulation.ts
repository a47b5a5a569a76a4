// An EMULATION of Route53 failover routing over the DECLARED records and health checks of both
// stacks (drill/runbookDns.ts), for the drill's clients: which record answers a name, right now.
// - Failover (Route53 API reference, ResourceRecordSet.Failover): the PRIMARY answers while it is
//   healthy; else the SECONDARY if it is healthy (or has no health check); when both are unhealthy
//   Route53 answers with the PRIMARY ("mode of last resort", Developer Guide dns-failover-problems).
// - CALCULATED: healthy when at least childHealthThreshold children are healthy.
// - CLOUDWATCH_METRIC: healthy when the alarm is OK, unhealthy in ALARM; INSUFFICIENT_DATA (also
//   when the alarm's region is unreachable) follows insufficientDataHealthStatus, LastKnownStatus
//   keeping the last state seen.
// - The alarm: only the DNS fence metric is emulated, which nobody publishes (model/contract.ts
//   DNS_FENCE_METRIC), so treatMissingData alone decides its state once an evaluation has run:
//   breaching -> ALARM, notBreaching -> OK, ignore -> unchanged, missing -> INSUFFICIENT_DATA
//   (CloudWatch user guide, "Configuring how CloudWatch alarms treat missing data"). A changed
//   treatment takes effect at the next evaluation, one period (scaled by the drill's time scale)
//   after the update.
// - Endpoint checks: the drill probes the endpoint at query time (Route53 needs failureThreshold x
//   requestInterval to notice a change; that delay is not emulated).
import { DNS_FENCE_METRIC } from "../model/contract";
import { DeclaredAlarm, DeclaredDns, DeclaredHealthCheck, DeclaredRecord } from "./runbookDns";

export type AlarmState = "OK" | "ALARM" | "INSUFFICIENT_DATA";

interface AlarmTimeline {
    alarm: DeclaredAlarm;
    /** State changes, oldest first: [from ms, state]. */
    changes: { fromMs: number; state: AlarmState }[];
}

export interface Answer {
    record: DeclaredRecord;
    /** Why this record answered, in words (for the report). */
    why: string;
}

export class DnsEmulation {
    private readonly declared = new Map<string, { region: string; dns: DeclaredDns }>();
    private readonly alarms = new Map<string, AlarmTimeline>();
    private readonly lastKnown = new Map<string, boolean>();
    private readonly lostRegions = new Set<string>();

    /**
     * @param timeScale production seconds per drill second (alarm periods run this much faster)
     * @param endpointHealthy whether an endpoint (the health check's fqdn) answers now
     * @param now the drill's clock, ms
     */
    constructor(
        private readonly timeScale: number,
        private readonly endpointHealthy: (fqdn: string) => Promise<boolean>,
        private readonly now: () => number,
    ) {}

    /**
     * A stack's declared DNS after a step was applied at `now()`. `steady`: it was deployed long
     * ago (the starting state), so its alarms already show what their treatment decides.
     */
    apply(stack: string, region: string, dns: DeclaredDns, steady = false): void {
        this.declared.set(stack, { region, dns });
        const at = this.now();
        for (const alarm of dns.alarms) {
            const key = `${alarm.region}/${alarm.name}`;
            const existing = this.alarms.get(key);
            const target = this.stateWithoutData(alarm, existing ? this.alarmState(alarm.region, alarm.name, at) : "INSUFFICIENT_DATA");
            // A new alarm starts INSUFFICIENT_DATA and is evaluated after evaluationPeriods periods; a
            // changed one at its next evaluation.
            const delayMs = ((existing ? alarm.periodSeconds : alarm.periodSeconds * alarm.evaluationPeriods) * 1000) / this.timeScale;
            const timeline: AlarmTimeline = existing ?? { alarm, changes: [{ fromMs: steady ? -Infinity : at, state: "INSUFFICIENT_DATA" }] };
            timeline.alarm = alarm;
            timeline.changes = timeline.changes.filter((c) => c.fromMs <= at);
            timeline.changes.push({ fromMs: steady ? -Infinity : at + delayMs, state: target });
            timeline.changes.sort((a, b) => a.fromMs - b.fromMs);
            this.alarms.set(key, timeline);
        }
    }

    /** The region's control and data plane are gone (its alarms cannot be read) or back. */
    regionLost(region: string): void {
        this.lostRegions.add(region);
    }

    regionBack(region: string): void {
        this.lostRegions.delete(region);
    }

    /** When the named alarm reaches `state` (ms on the drill clock), if it is scheduled to. */
    alarmReaches(region: string, name: string, state: AlarmState): number | undefined {
        return this.alarms.get(`${region}/${name}`)?.changes.find((c) => c.state === state)?.fromMs;
    }

    private stateWithoutData(alarm: DeclaredAlarm, current: AlarmState): AlarmState {
        if (alarm.namespace !== DNS_FENCE_METRIC.namespace || alarm.metricName !== DNS_FENCE_METRIC.metricName) {
            throw new Error(`alarm ${alarm.name}: metric ${alarm.namespace}/${alarm.metricName} is not emulated; the drill knows only the DNS fence metric that nobody publishes`);
        }
        return { breaching: "ALARM", notBreaching: "OK", ignore: current, missing: "INSUFFICIENT_DATA" }[alarm.treatMissingData] as AlarmState;
    }

    alarmState(region: string, name: string, atMs = this.now()): AlarmState {
        const timeline = this.alarms.get(`${region}/${name}`);
        if (!timeline) return "INSUFFICIENT_DATA";
        return [...timeline.changes].reverse().find((c) => c.fromMs <= atMs)?.state ?? "INSUFFICIENT_DATA";
    }

    private healthCheck(resource: string, stack: string): DeclaredHealthCheck {
        const found = this.declared.get(stack)?.dns.healthChecks.find((h) => h.resource === resource);
        if (!found) throw new Error(`stack ${stack} declares no health check ${resource}`);
        return found;
    }

    async healthy(resource: string, stack: string): Promise<boolean> {
        const check = this.healthCheck(resource, stack);
        const key = `${stack}/${resource}`;
        let result: boolean;
        if (check.kind === "endpoint") {
            result = await this.endpointHealthy(check.fqdn);
        } else if (check.kind === "calculated") {
            const children = await Promise.all(check.children.map((c) => this.healthy(c, stack)));
            result = children.filter(Boolean).length >= check.childHealthThreshold;
        } else {
            const state = this.lostRegions.has(check.alarmRegion) ? "INSUFFICIENT_DATA" : this.alarmState(check.alarmRegion, check.alarmName);
            if (state === "INSUFFICIENT_DATA") {
                if (check.insufficientData === "LastKnownStatus") {
                    // Route53 starts a new CLOUDWATCH_METRIC check healthy until it has seen a state.
                    result = this.lastKnown.get(key) ?? true;
                } else result = check.insufficientData === "Healthy";
            } else result = state === "OK";
        }
        if (check.kind !== "alarm" || !this.lostRegions.has(check.alarmRegion)) this.lastKnown.set(key, result);
        return result;
    }

    /** Which record answers `name` now. Exactly one PRIMARY and one SECONDARY record must be declared. */
    async resolve(name: string): Promise<Answer> {
        const records = [...this.declared.entries()].flatMap(([stack, d]) => d.dns.records.filter((r) => r.name === name).map((record) => ({ stack, record })));
        const primary = records.filter((r) => r.record.failover === "PRIMARY");
        const secondary = records.filter((r) => r.record.failover === "SECONDARY");
        if (primary.length !== 1 || secondary.length !== 1) {
            throw new Error(`${name}: ${primary.length} PRIMARY and ${secondary.length} SECONDARY failover records declared; Route53 allows exactly one of each`);
        }
        const [p, s] = [primary[0], secondary[0]];
        const healthy = async (r: { stack: string; record: DeclaredRecord }) => (r.record.healthCheck === undefined ? true : this.healthy(r.record.healthCheck, r.stack));
        if (await healthy(p)) return { record: p.record, why: "PRIMARY healthy" };
        if (await healthy(s)) return { record: s.record, why: "PRIMARY unhealthy, SECONDARY healthy" };
        return { record: p.record, why: "both unhealthy: Route53 answers the PRIMARY (last resort)" };
    }
}
