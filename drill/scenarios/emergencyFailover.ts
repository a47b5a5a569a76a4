// The README's "Emergency failover" runbook, step for step, driven through the program
// (drill/runbook.ts) and applied to the local topology (runbookApply.ts): the role flip plus the
// emergency confirmation (and the generation and time the fence marker records), one `pulumi up`
// of the surviving stack, nothing else. Shared by region-loss and old-primary-returns.
import { DNS_FENCE_METRIC } from "../../model/contract";
import { presentSeqs } from "../workload";
import { mainCluster } from "../runbook";
import { promotionOverrides, RunbookDrill } from "./runbookApply";
import { Recorder, waitUntil } from "./scenario";

/** Step names, as the README's Emergency failover runbook lists them (README "Runbooks"). */
export const EMERGENCY_STEPS = {
    readGeneration: (home: string) => `pulumi stack output promotionGeneration -s ${home}`,
    flip: (standby: string) => `pulumi up -s ${standby} (role primary, emergencyFailover, promotion generation and time)`,
    fenceAlarm: "DNS fence alarm in ALARM (describe-alarms)",
} as const;

/** Fails over to the standby stack (the home region is lost); returns the RTO from `sinceMs` and the commits the new primary holds. */
export async function emergencyFailover(rec: Recorder, d: RunbookDrill, sinceMs: number): Promise<{ rtoSeconds: number; present: Set<number> }> {
    const [home, standby] = d.t.declared.stacks;
    await rec.step(EMERGENCY_STEPS.readGeneration(home), async () => d.state.outputs);
    const declared = await d.step(EMERGENCY_STEPS.flip(standby), { stack: standby, overrides: promotionOverrides(d.state, true) });
    const cluster = mainCluster(declared);
    if (!cluster.writable) throw new Error(`${EMERGENCY_STEPS.flip(standby)} left ${cluster.name} a replica of ${cluster.replicaOf}: the runbook does not promote`);
    rec.check("the runbook declares the standby cluster primary, without a token", cluster.writable && cluster.token === undefined, `${cluster.name}: replica.primary = self, promotedWith ${JSON.stringify(declared.outputs.promotedWith)}`);
    await d.firstWrite(standby);
    const rtoSeconds = (rec.now() - sinceMs) / 1000;
    rec.event("standby promoted, accepting writes", "recovered");
    const alarm = declared.dns.alarms.find((a) => a.namespace === DNS_FENCE_METRIC.namespace && a.metricName === DNS_FENCE_METRIC.metricName);
    if (alarm) {
        await rec.step(EMERGENCY_STEPS.fenceAlarm, () => waitUntil(`alarm ${alarm.name} in ALARM`, async () => d.dns.alarmState(alarm.region, alarm.name) === "ALARM", 60000));
    }
    rec.check("the promoted stack declares a fence marker and raises the DNS fence alarm", declared.fenceMarkers.length === 1 && alarm?.treatMissingData === "breaching",
        `${declared.fenceMarkers.map((m) => `s3://${m.bucket}/${m.key} (generation ${m.marker.generation})`).join(", ") || "no marker"}; alarm ${alarm?.name ?? "(none)"} treatMissingData ${alarm?.treatMissingData}`);
    return { rtoSeconds, present: await presentSeqs(d.t.target(d.serverOf(cluster.name))) };
}
