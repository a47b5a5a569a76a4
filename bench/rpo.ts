// RPO and RTO of a region loss at several commit rates, on the streaming and the log-shipping
// paths, measured with the drill's own scenarios (drill/scenarios.ts) on this machine.
import { parseConfig } from "../config";
import { readStackConfig } from "../config";
import { runScenario, SCENARIOS } from "../drill/scenarios";
import { drillSettings } from "../drill/topology";

export const RPO_GOALS = {
    streamingLossSecondsAt100: 1,
    promotionRtoSeconds: 30,
};

export interface RpoMeasurement {
    path: "streaming" | "log-shipping";
    rate: number;
    status: string;
    acknowledged: number;
    lost: number;
    lossSeconds: number;
    predictedBoundSeconds?: number;
    rtoSeconds: number;
    promoteSeconds: number;
}

export async function benchRpo(options: { rates?: number[]; durationSeconds?: number; timeScale?: number; log?: (l: string) => void }): Promise<RpoMeasurement[]> {
    const log = options.log ?? (() => undefined);
    const config = parseConfig(readStackConfig("primary"), "primary");
    const results: RpoMeasurement[] = [];
    for (const rate of options.rates ?? [10, 100, 1000]) {
        for (const [path, name] of [["streaming", "region-loss"], ["log-shipping", "region-loss-log-shipping"]] as const) {
            const settings = drillSettings("primary", config, {
                rate,
                durationSeconds: options.durationSeconds ?? 20,
                replicationLagSeconds: 2,
                timeScale: options.timeScale ?? 30,
                log,
            });
            const r = await runScenario(SCENARIOS.find((s) => s.name === name)!, settings);
            // A scenario that could not complete measured nothing: a table of NaN would hide why.
            if (r.status === "ERROR") throw new Error(`bench rpo: ${name} at ${rate} commits/s could not complete: ${r.summary}`);
            // "promote the standby (pg_promote)", or the runbook's "CloudNativePG: promote <cluster> (pg_promote)".
            const promote = r.steps.find((s) => s.name.includes("(pg_promote)"));
            results.push({
                path,
                rate,
                status: r.status,
                acknowledged: r.rpo?.acknowledgedCommits ?? 0,
                lost: r.rpo?.lostCommits ?? 0,
                lossSeconds: r.rpo?.measuredSeconds ?? NaN,
                predictedBoundSeconds: r.rpo?.predictedBoundSeconds,
                rtoSeconds: r.rto?.measuredSeconds ?? NaN,
                promoteSeconds: promote ? (promote.endMs - promote.startMs) / 1000 : NaN,
            });
        }
    }
    return results;
}

export function formatRpo(results: RpoMeasurement[]): string {
    const rows = results.map(
        (r) =>
            `| ${r.path} | ${r.rate}/s | ${r.lost} of ${r.acknowledged} | ${r.lossSeconds.toFixed(3)} s | ${r.predictedBoundSeconds === undefined ? "-" : `${r.predictedBoundSeconds.toFixed(1)} s`} | ${r.promoteSeconds.toFixed(2)} s | ${r.rtoSeconds.toFixed(2)} s | ${r.status} |`,
    );
    const streaming100 = results.find((r) => r.path === "streaming" && r.rate === 100);
    const worstRto = Math.max(...results.map((r) => r.rtoSeconds));
    return [
        "| path | rate | lost commits | data loss | predicted bound | promote | RTO (disaster to first write) | drill status |",
        "|---|---|---|---|---|---|---|---|",
        ...rows,
        "",
        `goal: streaming failover loses at most ${RPO_GOALS.streamingLossSecondsAt100} s of acknowledged commits at 100/s: ` +
            (streaming100 ? `${streaming100.lossSeconds <= RPO_GOALS.streamingLossSecondsAt100 ? "met" : "NOT met"} (${streaming100.lossSeconds.toFixed(3)} s)` : "not measured"),
        `goal: promotion RTO at most ${RPO_GOALS.promotionRtoSeconds} s: ${worstRto <= RPO_GOALS.promotionRtoSeconds ? "met" : "NOT met"} (worst ${worstRto.toFixed(2)} s)`,
    ].join("\n");
}
