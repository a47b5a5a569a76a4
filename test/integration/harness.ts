// Shared by the integration tests: run a job script the way its CronJob does, and read what it
// published. A job gets the scripts as a mounted copy (readable by the job's unprivileged user),
// its own HOME, the system PATH and ONLY the variables documented in scripts/README.md.

import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { describeRun, JobResult } from "../../local/jobSandbox";
import { processTeardown, Teardown } from "../../local/teardown";
import { JOB_TOOLS, requireTools, systemPath } from "../../local/tools";
import { serviceUser } from "../../local/user";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export type { JobResult } from "../../local/jobSandbox";
export { JobSandbox, processesMentioning, SCRIPTS_DIR } from "../../local/jobSandbox";

/** Fails (does not skip) when a tool the jobs need is missing for the job user. */
export function requireJobTools(): void {
    requireTools(JOB_TOOLS, systemPath(), serviceUser().runAs);
}

export function assertSucceeded(r: JobResult): void {
    assert.equal(r.code, 0, `expected success: ${describeRun(r)}`);
    assert.deepEqual(r.stderrLines, [], `a successful run writes nothing to stderr: ${describeRun(r)}`);
}

/** Asserts a failure with exactly one stderr line "<script>: <reason>" and returns the reason. */
export function assertFailedWith(r: JobResult, reason: RegExp): string {
    assert.notEqual(r.code, 0, `expected failure: ${describeRun(r)}`);
    assert.equal(r.timedOut, false, `the job timed out: ${describeRun(r)}`);
    assert.equal(r.stderrLines.length, 1, `a failure is ONE line on stderr: ${describeRun(r)}`);
    const prefix = `${r.script.replace(/\.sh$/, "")}: `;
    const line = r.stderrLines[0];
    assert.ok(line.startsWith(prefix), `stderr line should start with "${prefix}": ${line}`);
    const text = line.slice(prefix.length);
    assert.match(text, reason, `unexpected reason: ${describeRun(r)}`);
    return text;
}

// ---- Prometheus text format ----

export interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

export function parseMetrics(text: string): Sample[] {
    const samples: Sample[] = [];
    for (const line of text.split("\n")) {
        if (line.startsWith("#") || line.trim() === "") continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
        assert.ok(m, `not a Prometheus sample line: ${line}`);
        const labels: Record<string, string> = {};
        for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
            labels[l[1]] = l[2];
        }
        samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
    return samples;
}

/** The value of the one sample called `name` (asserting there is exactly one), or undefined. */
export function metricValue(samples: Sample[], name: string): number | undefined {
    const found = samples.filter((s) => s.name === name);
    assert.ok(found.length <= 1, `${name} appears ${found.length} times`);
    return found[0]?.value;
}

// ---- S3 ----

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer | string): Promise<void> {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
}

export function nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
}

/**
 * The suite's teardown scope (local/teardown.ts): push what the suite starts onto it as it starts
 * it; the steps run newest first in the suite's `after` hook, and on Ctrl-C or exit if the run is
 * cut short. Call it in the describe() body.
 */
export function teardownForSuite(name: string): Teardown {
    const teardown = processTeardown.scope(name);
    after(() => teardown.runAll());
    return teardown;
}
