// Leaf schemas of the stack config: each parses one value and says, when it refuses it, what is
// allowed. The schema (schema.ts) is built from these.

import { z } from "zod";
import { DURATION_HELP, formatDuration, parseDuration } from "../model/duration";
import { CronFlavour, cronProblem } from "../model/schedule";

export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
export const ONE_DAY = 86400;

/** A value in a message: strings quoted. */
export function show(value: unknown): string {
    return typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

/** Message of a missing required value; describeIssue words it with the key and a hint. */
export const REQUIRED = "is required";

/** A duration in seconds; `min` in seconds. Accepts only strings like "5m" (YAML numbers are ambiguous). */
export function duration(minSeconds = 1) {
    return z.unknown().transform((value, ctx) => {
        if (value === undefined) {
            ctx.addIssue({ code: "custom", message: REQUIRED });
            return z.NEVER;
        }
        const seconds = typeof value === "string" ? parseDuration(value) : undefined;
        if (seconds === undefined) {
            ctx.addIssue({ code: "custom", message: `${show(value)} is not a duration; use ${DURATION_HELP}` });
            return z.NEVER;
        }
        if (seconds < minSeconds) {
            ctx.addIssue({ code: "custom", message: `${show(value)} is too short; the minimum is ${formatDuration(minSeconds)}` });
            return z.NEVER;
        }
        return seconds;
    });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
    return z.enum(values, {
        error: (issue) => (issue.input === undefined ? REQUIRED : `${show(issue.input)} is not allowed; allowed: ${values.join(", ")}`),
    });
}

/** Pulumi hands flat config values to programs as strings ("true"); nested YAML keeps booleans. */
export const boolish = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")], {
    error: (issue) => `${show(issue.input)} is not a boolean; use true or false`,
});

export const awsRegion = z.string().regex(REGION, { message: "is not an AWS region name like us-east-1" });

const QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/;
const QUANTITY_FACTORS: Record<string, number> = {
    "": 1, m: 0.001, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity (k8s.io/apimachinery resource.Quantity: decimal or binary SI suffix) in base units. */
export function quantityValue(text: string): number | undefined {
    const m = QUANTITY.exec(text);
    return m ? Number(m[1]) * QUANTITY_FACTORS[m[2] ?? ""] : undefined;
}

/** A Kubernetes resource quantity such as 50Gi or 500m. */
export const quantity = z.string().regex(QUANTITY, { message: "is not a Kubernetes quantity like 50Gi, 512Mi or 500m" });

/** A volume size of at least `minimum` (a quantity such as "1Gi"), with the reason in the message. */
export function volumeSize(minimum: string, why: string) {
    const minBytes = quantityValue(minimum)!;
    return quantity.refine((size) => (quantityValue(size) ?? 0) >= minBytes, {
        message: `is too small; the minimum is ${minimum} (${why})`,
    });
}

/** A PostgreSQL size setting such as 10GB (or -1 for unlimited). */
export const pgSize = z.string().regex(/^(-1|\d+(kB|MB|GB|TB))$/, { message: "is not a PostgreSQL size like 10GB, 512MB (or -1)" });

export function count(min: number, max: number) {
    return z.unknown().transform((value, ctx) => {
        const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            ctx.addIssue({ code: "custom", message: value === undefined ? REQUIRED : `${show(value)} is not allowed; use a whole number from ${min} to ${max}` });
            return z.NEVER;
        }
        return n;
    });
}

export function cron(flavour: CronFlavour) {
    return z.string().superRefine((expression, ctx) => {
        const problem = cronProblem(expression, flavour);
        if (problem) {
            ctx.addIssue({ code: "custom", message: problem });
        }
    });
}

/** A container image pinned by a tag other than latest, or by digest: a restart must not change what runs. */
export function pinnedImage(fallback: string) {
    return z
        .string()
        .superRefine((image, ctx) => {
            const tagged = /^[^\s@:]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.exec(image.replace(/^[^/]+:\d+\//, "registry/"));
            const pinned = tagged !== null && (/@sha256:[a-f0-9]{64}$/.test(image) || (tagged[1] !== undefined && tagged[1] !== ":latest"));
            if (!pinned) {
                ctx.addIssue({ code: "custom", message: `${show(image)} must be pinned: a tag other than latest, or a digest (e.g. :16.6 or @sha256:<64 hex>)` });
            }
        })
        .default(fallback);
}

export const resources = z.strictObject({
    requests: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
    limits: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
});

export const dnsName = z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, { message: "is not a DNS name" });
