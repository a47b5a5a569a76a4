// The CEL rules of a CRD schema (`x-kubernetes-validations`), evaluated on an object the way the
// API server does when the object is created: `self` is the value at the rule's schema node,
// after defaulting; a rule that is false or fails to evaluate (e.g. reads a field that is not
// set) rejects the object. Transition rules (they read `oldSelf`) apply only to updates and are
// skipped here. Kubernetes docs: "Validation rules" in "Extend the Kubernetes API with
// CustomResourceDefinitions". Used by tools/crds.ts.

import { evaluate } from "@marcbachmann/cel-js";

type Schema = Record<string, any>;

interface CelRule {
    rule: string;
    message?: string;
    /** Where the API server reports the failure, relative to the rule's node, e.g. `.serverName`. */
    fieldPath?: string;
}

export interface RuleProblem {
    path: string;
    message: string;
}

/** Appends a key or an index to a JSON path written as `.spec.items[0]["odd/key"]`. */
export function appendPath(path: string, key: string | number): string {
    if (typeof key === "number") return `${path}[${key}]`;
    return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** CEL has distinct int and double types; schema integers become ints (BigInt in cel-js). */
function toCel(schema: Schema | undefined, value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => toCel(schema?.items, v));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(childSchema(schema, k), v)]));
    }
    if (typeof value === "number" && Number.isInteger(value) && schema?.type === "integer") return BigInt(value);
    return value;
}

function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
    if (schema?.properties?.[key]) return schema.properties[key];
    return typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined;
}

/** Every rule the value breaks, walking the value and its schema together. */
export function celProblems(schema: Schema, value: unknown, path = ""): RuleProblem[] {
    if (value === undefined || value === null) return [];
    const problems: RuleProblem[] = [];
    for (const rule of (schema["x-kubernetes-validations"] ?? []) as CelRule[]) {
        if (/\boldSelf\b/.test(rule.rule)) continue;
        const where = path + (rule.fieldPath ?? "") || ".";
        try {
            if (evaluate(rule.rule, { self: toCel(schema, value) }) !== true) {
                problems.push({ path: where, message: `${rule.message ?? "failed"} (CEL rule: ${rule.rule})` });
            }
        } catch (error) {
            problems.push({ path: where, message: `CEL rule ${rule.rule} does not evaluate: ${(error as Error).message.split("\n")[0]}` });
        }
    }
    if (Array.isArray(value)) {
        value.forEach((item, i) => problems.push(...(schema.items ? celProblems(schema.items, item, appendPath(path, i)) : [])));
    } else if (typeof value === "object") {
        for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
            const sub = childSchema(schema, key);
            if (sub) problems.push(...celProblems(sub, child, appendPath(path, key)));
        }
    }
    return problems;
}
