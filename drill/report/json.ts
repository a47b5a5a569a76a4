// The drill report for machines: drill-report.json, byte-for-byte stable for the same report.
import { DrillReport } from "../types";

/** Keys sorted at every level so the same report always serialises to the same bytes, whoever built it. */
function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (value !== null && typeof value === "object") {
        const sorted: Record<string, unknown> = {};
        for (const key of Object.keys(value).sort()) {
            sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
        }
        return sorted;
    }
    return value;
}

export function toJson(report: DrillReport): string {
    return JSON.stringify(sortKeys(report), null, 2) + "\n";
}
