// Reading config as Pulumi hands it to a program: a flat map `namespace:key` -> string (objects as
// JSON text), and wording the schema's issues as problems that name the `drstack:` key.

import { z } from "zod";
import { NAMESPACE } from "../model/contract";
import { REQUIRED, show } from "./fields";

/** Tells whether a config key (e.g. "drstack:databasePassword") holds a Pulumi secret. */
export type SecretKeyPredicate = (key: string) => boolean;

/** Raw flat config as Pulumi hands it to a program: `namespace:key` -> string (objects as JSON). */
export type FlatConfig = Record<string, string>;

function keyName(path: PropertyKey[]): string {
    if (path.length === 0) {
        return `${NAMESPACE}`;
    }
    // List positions read as users write them with `pulumi config set --path`: restore[0].name.
    const [head, ...rest] = path;
    return rest.reduce<string>((key, part) => (typeof part === "number" ? `${key}[${part}]` : `${key}.${String(part)}`), `${NAMESPACE}:${String(head)}`);
}

/** What to write for a missing required key. */
const REQUIRED_HINTS: Record<string, string> = {
    role: "primary or standby",
    peerRegion: "the other stack's region, e.g. us-west-2",
    prefix: "a short name for every resource, e.g. acme-orders",
    rpo: "per disruption type, e.g. { region: 5m, data-corruption: 5m }",
    rto: "per disruption type, e.g. { region: 30m, data-corruption: 1h }",
    homeRegion: "the region that is primary in normal operation (same in both stacks), e.g. us-east-1",
};

export function describeIssue(issue: z.core.$ZodIssue & { input?: unknown }): string {
    const key = keyName(issue.path);
    if (issue.message === REQUIRED || (issue.code === "invalid_type" && issue.input === undefined)) {
        const hint = issue.path.length === 1 ? REQUIRED_HINTS[String(issue.path[0])] : undefined;
        return `${key} is required${hint ? `: ${hint}` : ""}`;
    }
    if (issue.code === "unrecognized_keys") {
        const where = issue.path.length === 0 ? NAMESPACE : key;
        const names = issue.keys.map((k) => (issue.path.length === 0 ? `${NAMESPACE}:${k}` : `${key}.${k}`));
        return `${names.join(", ")}: unknown setting${names.length > 1 ? "s" : ""} in ${where} (check the spelling; see README "Configuration")`;
    }
    if (issue.code === "invalid_format" || (issue.code === "invalid_type" && issue.input !== undefined)) {
        return `${key}: ${show(issue.input)} ${issue.message.startsWith("Invalid") ? `is invalid (${issue.message})` : issue.message}`;
    }
    return `${key}: ${issue.message}`;
}

/** Reads the flat map into the nested shape the schema expects. */
export function unflatten(flat: FlatConfig): { values: Record<string, unknown>; region: string | undefined } {
    const values: Record<string, unknown> = {};
    for (const [fullKey, text] of Object.entries(flat)) {
        const [namespace, key] = splitKey(fullKey);
        if (namespace !== NAMESPACE) {
            continue;
        }
        values[key] = decodeValue(text);
    }
    return { values, region: flat["aws:region"] };
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    return i < 0 ? ["", fullKey] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}

function decodeValue(text: string): unknown {
    const t = text.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
        try {
            return JSON.parse(t);
        } catch {
            return text;
        }
    }
    return text;
}

