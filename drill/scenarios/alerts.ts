// The drill's alerting, per scenario (issue 12 item 9): a MonitoringStack (drill/monitoring/) on
// the scenario's servers, labelled as CloudNativePG's pods, and what it fired turned into the
// scenario's measurement: each firing with its time after the fault (time to detect), whether it
// fell in a healthy phase, and the alerts the fault must fire. result.ts judges them.
import { Teardown } from "../../local/teardown";
import { MonitoringStack, podLabels } from "../monitoring/stack";
import { Topology } from "../topology";
import { ExpectedAlert } from "../types";
import { Measurement, Recorder } from "./scenario";

/** Starts Prometheus (1 s intervals), the Pushgateway and one exporter per server of the topology. */
export async function startMonitoring(rec: Recorder, t: Topology, teardown: Teardown): Promise<MonitoringStack> {
    const s = t.settings;
    const monitoring = await rec.step("start monitoring (Prometheus, Pushgateway, postgres_exporter)", async () => {
        const m = await MonitoringStack.start({ config: s.config, timeScale: s.timeScale });
        teardown.add("stop monitoring", () => m.stop());
        await m.addServer(t.primary, podLabels(s.config, t.primaryServer));
        if (t.standby) await m.addServer(t.standby, podLabels(s.config, t.standbyServer));
        return m;
    });
    return monitoring;
}

/** Healthy phases and the fault, in ms since the scenario start. */
export interface AlertPhases {
    healthy: [number, number][];
    faultAtMs?: number;
}

/** What fired (also put on the timeline) and the expected alerts' detection times. */
export async function measuredAlerts(
    monitoring: MonitoringStack,
    rec: Recorder,
    phases: AlertPhases,
    expected: Omit<ExpectedAlert, "met" | "detectedAfterSeconds">[],
): Promise<NonNullable<Measurement["alerts"]>> {
    await monitoring.watcher.poll();
    const fault = phases.faultAtMs;
    const firings = monitoring.watcher
        .all()
        .filter((r) => r.firingAtMs !== undefined)
        .map((r) => {
            const firedAtMs = r.firingAtMs! - rec.start;
            return {
                alert: r.alert,
                firedAtMs,
                afterFaultSeconds: fault !== undefined && firedAtMs >= fault ? (firedAtMs - fault) / 1000 : undefined,
                inHealthyPhase: phases.healthy.some(([from, to]) => firedAtMs >= from && firedAtMs <= to),
                labels: r.labels,
            };
        });
    for (const f of firings) rec.events.push({ atMs: f.firedAtMs, label: `alert ${f.alert}`, kind: "alert" });
    return {
        firings,
        expected: expected.map((e) => ({
            ...e,
            detectedAfterSeconds: fault === undefined ? undefined : monitoring.watcher.timeToDetect(e.alert, rec.start + fault),
        })),
    };
}
