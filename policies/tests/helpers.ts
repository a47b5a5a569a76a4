// Runs one policy against hand-built resources, through the same argument building as the
// offline check (policies/evaluate.ts: stackTags, notApplicable, getConfig with schema defaults).
import { Policy } from "@pulumi/policy";
import { DeclaredResource, evaluate, PackConfig } from "../evaluate";

export interface Fixture {
    type: string;
    props: Record<string, any>;
    name?: string;
    /** Name of the parent resource (for stack policies that group by component). */
    parent?: string;
}

function declared(fixtures: Fixture[]): DeclaredResource[] {
    return fixtures.map((f, i) => {
        const name = f.name ?? `res${i}`;
        return {
            type: f.type,
            name,
            urn: `urn:pulumi:test::drstack::${f.type}::${name}`,
            props: f.props,
            parent: f.parent ? `urn:pulumi:test::drstack::${fixtures.find((p) => (p.name ?? "") === f.parent)?.type}::${f.parent}` : undefined,
        };
    });
}

/** What ends every violation message: the stack setting to change, or that no setting changes it. */
export const FIX_SUFFIX = /\[(stack setting: drstack:[A-Za-z][\w.-]*|fixed by drstack in [\w/.]+\.ts; no stack setting changes it)\]$/;

/** Violation messages of `policy` for these resources, with optional policy config. Every message must say how to fix it. */
export async function violations(policy: Policy, fixtures: Fixture | Fixture[], config?: Record<string, unknown>): Promise<string[]> {
    const pack: PackConfig = config ? { [policy.name]: config } : {};
    const messages = (await evaluate([policy], declared(([] as Fixture[]).concat(fixtures)), pack)).map((v) => v.message);
    for (const message of messages) {
        if (!FIX_SUFFIX.test(message)) {
            throw new Error(`policy ${policy.name}: the message does not name the stack setting to change: ${message}`);
        }
    }
    return messages;
}

/** A deep copy of `props` with `path` (dot separated) set to `value` (undefined removes it). */
export function withProp(props: Record<string, any>, path: string, value: unknown): Record<string, any> {
    const copy = structuredClone(props);
    const parts = path.split(".");
    let node = copy;
    for (const part of parts.slice(0, -1)) node = node[part] ??= {};
    if (value === undefined) delete node[parts[parts.length - 1]];
    else node[parts[parts.length - 1]] = value;
    return copy;
}
