// `npm run policy:check`: runs the program for each stack under Pulumi's mock runtime with the
// stack's real config, evaluates every policy of the pack (resource and stack policies) against
// what it declared, prints the violations grouped by stack and resource, and exits non-zero when a
// mandatory one fails. No cloud credentials, no Pulumi CLI.
import "./sourceMaps";
import "./offline/mocks";
import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { listStacks, PROJECT_ROOT, readStackFile } from "../config";
import { allPolicies } from "../policies/all";
import { backupBucketName } from "../model/naming";
import { DeclaredResource, evaluate, PackConfig, Violation } from "../policies/evaluate";
import { Overrides, runProgram } from "./offline/program";

export const DEFAULT_POLICY_CONFIG = path.join(PROJECT_ROOT, "policies", "policy-config.json");

export interface StackResult {
    stack: string;
    violations: (Violation & { resource?: string })[];
    /** Mandatory violations: any of these fails the check. */
    failed: number;
}

/** Secrets keep their value for evaluation (as the engine shows policies plaintext values). */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        const o = value as Record<string, unknown>;
        if (o[specialSigKey] === specialSecretSig) return unwrapSecrets(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** The peer stacks' outputs as the program's StackReference would read them: each stack file's role and bucket. */
export function peersFromStackFiles(): Record<string, Record<string, unknown>> {
    const peers: Record<string, Record<string, unknown>> = {};
    for (const stack of listStacks()) {
        const config = readStackFile(stack);
        const peer = config["drstack:peerStack"];
        if (typeof peer === "string") {
            const peerFile = peer.split("/").pop()!;
            if (listStacks().includes(peerFile)) {
                const peerConfig = readStackFile(peerFile);
                // A deployed peer also exports its bucket (the name model/naming.ts derives).
                const prefix = peerConfig["drstack:prefix"];
                const region = peerConfig["aws:region"];
                peers[peer] = {
                    role: peerConfig["drstack:role"],
                    ...(typeof prefix === "string" && typeof region === "string" ? { backupBucket: backupBucketName(prefix, region) } : {}),
                };
            }
        }
    }
    return peers;
}

export async function checkStack(stack: string, pack: PackConfig, overrides: Overrides = {}): Promise<StackResult> {
    const run = await runProgram(stack, overrides, { peers: peersFromStackFiles() });
    const urnOf = new Map(run.resources.map((r) => [r.name, `urn:pulumi:${stack}::drstack::${r.type}::${r.name}`]));
    const declared: DeclaredResource[] = run.resources.map((r) => ({
        type: r.type,
        name: r.name,
        urn: urnOf.get(r.name)!,
        props: unwrapSecrets(r.inputs) as Record<string, any>,
        parent: r.parent ? urnOf.get(r.parent) : undefined,
        protect: r.protect,
        ignoreChanges: r.ignoreChanges,
    }));
    const violations = (await evaluate(allPolicies, declared, pack)).map((v) => ({ ...v, resource: v.urn?.split("::").pop() }));
    return { stack, violations, failed: violations.filter((v) => v.enforcementLevel === "mandatory").length };
}

export function readPackConfig(file = DEFAULT_POLICY_CONFIG): PackConfig {
    return JSON.parse(fs.readFileSync(file, "utf8")) as PackConfig;
}

export function formatResults(results: StackResult[]): string {
    const lines: string[] = [];
    for (const r of results) {
        lines.push(`stack ${r.stack}: ${r.failed === 0 ? "PASS" : "FAIL"} (${r.failed} mandatory, ${r.violations.length - r.failed} advisory)`);
        const byResource = new Map<string, typeof r.violations>();
        for (const v of r.violations) {
            const key = v.resource ?? "(stack)";
            byResource.set(key, [...(byResource.get(key) ?? []), v]);
        }
        for (const [resource, vs] of byResource) {
            lines.push(`  ${resource}`);
            for (const v of vs) lines.push(`    [${v.enforcementLevel}] ${v.policy}: ${v.message}`);
        }
    }
    return lines.join("\n");
}

if (require.main === module) {
    const program = new Command()
        .name("policy:check")
        .description("Evaluate the drstack policy pack against the stacks' real config, offline")
        .option("-s, --stack <stack...>", "stacks to check (default: every Pulumi.<stack>.yaml)")
        .option("-c, --config <file>", "policy pack config", DEFAULT_POLICY_CONFIG)
        .parse();
    const { stack, config } = program.opts<{ stack?: string[]; config: string }>();
    (async () => {
        const pack = readPackConfig(config);
        const results: StackResult[] = [];
        for (const s of stack ?? listStacks()) {
            results.push(await checkStack(s, pack));
        }
        console.log(formatResults(results));
        const failed = results.reduce((n, r) => n + r.failed, 0);
        console.log(failed === 0 ? "policy check passed" : `policy check FAILED: ${failed} mandatory violation(s)`);
        // Let the SDK finish its (mock) RPCs, so it does not report them as leaked at exit.
        await pulumi.runtime.disconnect();
        process.exit(failed === 0 ? 0 : 1);
    })().catch((error) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(2);
    });
}
