// The one Pulumi mocks setup: loaded by mocha (--require) before any test imports program code,
// and by the offline policy check (tools/policyCheck.ts) before it runs the program.
// Mock state is global in the SDK, so every test shares this monitor; tests read what the
// program declared from `declared` (the inputs exactly as the program sent them to the engine).

import * as pulumi from "@pulumi/pulumi";
import { BUCKET_PREFIXES } from "../../model/contract";
import { backupBucketName, clusterName } from "../../model/naming";

export interface DeclaredResource {
    type: string;
    name: string;
    /** Resolved inputs as registered with the engine. */
    inputs: Record<string, any>;
}

export const declared: DeclaredResource[] = [];
export const invoked: { token: string; args: Record<string, any> }[] = [];

export const TEST_ACCOUNT_ID = "111122223333";

/** Outputs of peer stacks as a StackReference reads them, by fully qualified stack name. */
export const peerStacks: Record<string, Record<string, unknown>> = {};

const SHIPPED = { prefix: "acme-orders", primaryRegion: "us-east-1", drRegion: "us-west-2" } as const;

/** The shipped pair as deployed: primary is primary, dr is standby, nobody demoted, both buckets created. */
export const DEPLOYED_PEERS: Record<string, Record<string, unknown>> = {
    "acme/drstack/primary": { role: "primary", backupBucket: backupBucketName(SHIPPED.prefix, SHIPPED.primaryRegion) },
    "acme/drstack/dr": { role: "standby", backupBucket: backupBucketName(SHIPPED.prefix, SHIPPED.drRegion) },
};

/**
 * Object keys per bucket as `aws.s3.getObjects` lists them; a bucket absent here does not exist
 * (S3 answers NoSuchBucket). Tests set it per run (RunOptions.objects).
 */
export const bucketObjects: Record<string, string[]> = {};

/** The shipped pair as deployed: the primary's first base backup is in both buckets (replicated into dr's). */
export const DEPLOYED_OBJECTS: Record<string, string[]> = (() => {
    const backup = `${BUCKET_PREFIXES.barman(clusterName(SHIPPED.prefix, SHIPPED.primaryRegion))}base/20261124T020000/backup.info`;
    return {
        [backupBucketName(SHIPPED.prefix, SHIPPED.primaryRegion)]: [backup],
        [backupBucketName(SHIPPED.prefix, SHIPPED.drRegion)]: [backup],
    };
})();

/** The id the mock provider assigns a resource: what another resource's input holds when it references it (e.g. healthCheckId). */
export function mockResourceId(name: string): string {
    return `${name}-id`;
}

/** The value the mock provider "generates" for a RandomPassword: tests look for it in plaintext. */
export function mockPassword(name: string): string {
    return `mock-generated-password-${name}`;
}

/** Computed attributes a real provider would fill in, so program wiring (ARNs, ids) resolves. */
function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
    switch (type) {
        case "aws:s3/bucket:Bucket":
            return { arn: `arn:aws:s3:::${inputs.bucket}`, bucket: inputs.bucket };
        case "aws:kms/key:Key":
            return { arn: `arn:aws:kms:mock-region:${TEST_ACCOUNT_ID}:key/${name}`, keyId: `${name}-key-id` };
        case "aws:iam/role:Role":
            return { arn: `arn:aws:iam::${TEST_ACCOUNT_ID}:role/${name}` };
        case "aws:sns/topic:Topic":
            return { arn: `arn:aws:sns:${inputs.region ?? "mock-region"}:${TEST_ACCOUNT_ID}:${name}` };
        case "random:index/randomPassword:RandomPassword":
            return { result: mockPassword(name) };
        case "pulumi:pulumi:StackReference": {
            const outputs = peerStacks[inputs.name];
            if (outputs === undefined) {
                throw new Error(`unknown stack ${inputs.name} (tests set peer stack outputs in peerStacks)`);
            }
            return { name: inputs.name, outputs, secretOutputNames: [] };
        }
        default:
            return {};
    }
}

const mocks: pulumi.runtime.Mocks = {
    newResource(args: pulumi.runtime.MockResourceArgs) {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: mockResourceId(args.name), state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs) } };
    },
    call(args: pulumi.runtime.MockCallArgs) {
        invoked.push({ token: args.token, args: args.inputs });
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
            return { accountId: TEST_ACCOUNT_ID, arn: `arn:aws:iam::${TEST_ACCOUNT_ID}:user/test`, userId: "test", id: TEST_ACCOUNT_ID };
        }
        if (args.token === "aws:s3/getObjects:getObjects") {
            const keys = bucketObjects[args.inputs.bucket];
            if (keys === undefined) {
                // The provider's error for a bucket that does not exist; the SDK rethrows an invoke's
                // gRPC error as `new Error(err.details)` (@pulumi/pulumi runtime/invoke.js).
                const message = `listing S3 Bucket (${args.inputs.bucket}) Objects: operation error S3: ListObjectsV2, https response error StatusCode: 404, api error NoSuchBucket: The specified bucket does not exist`;
                throw Object.assign(new Error(message), { details: message });
            }
            const found = keys.filter((k) => k.startsWith(args.inputs.prefix ?? "")).sort().slice(0, args.inputs.maxKeys ?? 1000);
            return { bucket: args.inputs.bucket, keys: found, commonPrefixes: [], owners: [], id: args.inputs.bucket, region: "mock-region", requestCharged: "" };
        }
        throw new Error(`The tests do not mock the provider function ${args.token}`);
    },
};

/** (Re)points the mock monitor at a stack name; the same mocks object is used every time. */
export function useStack(stack: string): void {
    pulumi.runtime.setMocks(mocks, "drstack", stack, false);
}

useStack("test");
