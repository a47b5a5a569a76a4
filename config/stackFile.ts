// Reads Pulumi.<stack>.yaml into the flat map Pulumi hands a program (objects as JSON text),
// so the policy check, the drill and the tests see a stack's config exactly as `pulumi up` does.

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { FlatConfig } from "./flat";

export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** Placeholder for encrypted (`secure:`) values, which only the Pulumi CLI can decrypt. */
export const SECRET_PLACEHOLDER = "[secret]";

export function stackFilePath(stack: string, root = PROJECT_ROOT): string {
    return path.join(root, `Pulumi.${stack}.yaml`);
}

function flatValue(value: unknown): string {
    if (typeof value === "string") {
        return value;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).join() === "secure") {
        return SECRET_PLACEHOLDER;
    }
    if (value !== null && typeof value === "object") {
        return JSON.stringify(value);
    }
    return String(value);
}

/** Flattens a parsed stack file's `config:` map. */
export function flattenStackConfig(config: Record<string, unknown>): FlatConfig {
    const flat: FlatConfig = {};
    for (const [key, value] of Object.entries(config ?? {})) {
        flat[key] = flatValue(value);
    }
    return flat;
}

/** The raw `config:` map of a stack file, as written. */
export function readStackFile(stack: string, root = PROJECT_ROOT): Record<string, unknown> {
    const file = stackFilePath(stack, root);
    if (!fs.existsSync(file)) {
        throw new Error(`No stack file ${file}: known stacks are ${listStacks(root).join(", ") || "none"}`);
    }
    const doc = parse(fs.readFileSync(file, "utf8")) ?? {};
    return (doc.config ?? {}) as Record<string, unknown>;
}

export function readStackConfig(stack: string, root = PROJECT_ROOT): FlatConfig {
    return flattenStackConfig(readStackFile(stack, root));
}

export function listStacks(root = PROJECT_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}
