// The one Pulumi mocks setup: loaded by mocha (--require) before any test imports program code,
// and by the offline policy check (tools/policyCheck.ts) before it runs the program.
// Mock state is global in the SDK, so every test shares this monitor; tests read what the
// program declared from `declared` (the inputs exactly as the program sent them to the engine).

import * as pulumi from "@pulumi/pulumi";

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

/** The shipped pair as deployed: primary is primary, dr is standby, nobody demoted. */
export const DEPLOYED_PEERS: Record<string, Record<string, unknown>> = {
    "acme/drstack/primary": { role: "primary" },
    "acme/drstack/dr": { role: "standby" },
};

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
        return { id: `${args.name}-id`, state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs) } };
    },
    call(args: pulumi.runtime.MockCallArgs) {
        invoked.push({ token: args.token, args: args.inputs });
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
            return { accountId: TEST_ACCOUNT_ID, arn: `arn:aws:iam::${TEST_ACCOUNT_ID}:user/test`, userId: "test", id: TEST_ACCOUNT_ID };
        }
        throw new Error(`The tests do not mock the provider function ${args.token}`);
    },
};

/** (Re)points the mock monitor at a stack name; the same mocks object is used every time. */
export function useStack(stack: string): void {
    pulumi.runtime.setMocks(mocks, "drstack", stack, false);
}

useStack("test");
