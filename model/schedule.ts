// Cron schedules in stack config. Kubernetes CronJobs take 5 fields; CloudNativePG's
// ScheduledBackup takes 6 (seconds first) and would silently misread a 5-field string,
// so the field count is part of the check. The longest gap between runs is what the RPO
// arithmetic and the alert thresholds need, so it is computed here.

import { CronExpressionParser } from "cron-parser";

export type CronFlavour = "kubernetes" | "cloudnative-pg";

const FIELDS: Record<CronFlavour, number> = { kubernetes: 5, "cloudnative-pg": 6 };
const EXAMPLES: Record<CronFlavour, string> = { kubernetes: '"15 3 * * *" (daily at 03:15 UTC)', "cloudnative-pg": '"0 0 2 * * *" (daily at 02:00:00 UTC)' };

/** Returns a problem description, or undefined when the schedule is valid. */
export function cronProblem(expression: string, flavour: CronFlavour): string | undefined {
    const fields = expression.trim().split(/\s+/).length;
    if (fields !== FIELDS[flavour]) {
        return `${JSON.stringify(expression)} has ${fields} fields; ${flavour === "kubernetes" ? "a Kubernetes CronJob schedule" : "a CloudNativePG schedule (seconds first)"} needs ${FIELDS[flavour]}, e.g. ${EXAMPLES[flavour]}`;
    }
    try {
        CronExpressionParser.parse(expression, { tz: "UTC" });
        return undefined;
    } catch (error) {
        return `${JSON.stringify(expression)} is not a valid cron schedule (${(error as Error).message})`;
    }
}

/**
 * The longest gap between two consecutive runs, in seconds, over a year of runs (enough to
 * see monthly and day-of-week patterns; capped so a per-second schedule stays cheap).
 */
export function maxIntervalSeconds(expression: string): number {
    return intervalsSeconds(expression).longest;
}

/** The shortest gap between two consecutive runs, in seconds (a job must finish within it). */
export function minIntervalSeconds(expression: string): number {
    return intervalsSeconds(expression).shortest;
}

// Pure in the expression (the year walked is fixed): computed once per expression, since walking a
// year of runs costs 0.1 s (daily) to 1 s (every 5 minutes: capped), and every program run, policy and
// config check asks again for the same few schedules.
const intervals = new Map<string, { longest: number; shortest: number }>();

function intervalsSeconds(expression: string): { longest: number; shortest: number } {
    let known = intervals.get(expression);
    if (known === undefined) {
        known = walkIntervals(expression);
        intervals.set(expression, known);
    }
    return known;
}

function walkIntervals(expression: string): { longest: number; shortest: number } {
    const start = new Date(Date.UTC(2026, 0, 1));
    const end = start.getTime() + 366 * 86400_000;
    const cron = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: start });
    let previous = cron.next().getTime();
    let longest = 0;
    let shortest = Infinity;
    for (let i = 0; i < 20_000; i++) {
        const next = cron.next().getTime();
        longest = Math.max(longest, next - previous);
        shortest = Math.min(shortest, next - previous);
        previous = next;
        if (next > end) {
            break;
        }
    }
    return { longest: Math.round(longest / 1000), shortest: Math.round(shortest / 1000) };
}
