// Fencing a returning old primary (issue 11 item 4; DESIGN.md "Fencing"), the part beside DNS:
// - the fence marker: a stack promoted by emergency failover writes fence/<own cluster>.json into
//   its OWN bucket (never the lost region's); S3 replication carries it into the old primary's
//   bucket when that region returns (components/storage/replication.ts carries the key);
// - the fence check: a CronJob in EVERY stack runs scripts/fence-check.sh each minute; in the
//   returning old primary it finds the marker and fences its own cluster with CloudNativePG's
//   fencing annotation (docs/src/fencing.md @v1.30.0). It never lifts a fence (a failback step).
// The contract (key, body, env, RBAC) is model/fence.ts; the script's settings are in scripts/README.md.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, fenceCheckObjectNames, JOB_LABEL_VALUES } from "../../model/contract";
import { FENCE_CHECK, fenceCheckEnv, fenceCheckRbacRules, FenceCheckRole, fenceMarkerBody, fenceMarkerKey } from "../../model/fence";
import { labels, SCRATCH, scriptCronJobSpec } from "../backups/jobs";
import { bucketKeyStatement, irsaTrustPolicy } from "../irsa";

/** Every minute: a returning old primary is fenced within one interval of the marker's arrival. */
export const FENCE_CHECK_SCHEDULE = "* * * * *";

export interface FencingArgs {
    /** This region's cluster (the only one the job may fence) and the peer's (whose marker it reads). */
    clusterName: string;
    peerClusterName: string;
    /** The stack's drstack:role and drstack:promotion.generation. */
    role: FenceCheckRole;
    promotionGeneration: number;
    /** Present when this stack is promoted by emergency failover: write the marker fencing the peer. */
    marker?: { promotedAt: string; reason: string };
    namespace: pulumi.Input<string>;
    /** This region's bucket: its name as the job reads it, and its ARN and KMS key for IAM. */
    bucketName: string;
    bucketArn: pulumi.Input<string>;
    keyArn: pulumi.Input<string>;
    region: string;
    /** The backup jobs' image and scripts ConfigMap (components/backups/jobs.ts). */
    image: string;
    scriptsConfigMap: pulumi.Input<string>;
    pushgatewayUrl?: string;
    oidcProviderArn: string;
    oidcIssuer: string;
    tags?: Record<string, string>;
}

export class Fencing extends pulumi.ComponentResource {
    public readonly marker?: aws.s3.BucketObjectv2;
    public readonly role: aws.iam.Role;
    public readonly serviceAccount: k8s.core.v1.ServiceAccount;
    public readonly rbacRole: k8s.rbac.v1.Role;
    public readonly roleBinding: k8s.rbac.v1.RoleBinding;
    public readonly cronJob: k8s.batch.v1.CronJob;

    constructor(name: string, args: FencingArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.fencing, name, args, opts);
        const names = fenceCheckObjectNames(args.clusterName);

        if (args.marker) {
            this.marker = new aws.s3.BucketObjectv2(
                `${name}-marker`,
                {
                    bucket: args.bucketName,
                    key: fenceMarkerKey(args.clusterName),
                    content: fenceMarkerBody({
                        promotedCluster: args.clusterName,
                        fencedCluster: args.peerClusterName,
                        generation: args.promotionGeneration,
                        promotedAt: args.marker.promotedAt,
                        reason: args.marker.reason,
                    }),
                    contentType: "application/json",
                    // No encryption header: the bucket default (SSE-KMS with the bucket's key) applies, which
                    // the bucket policy requires (UPSTREAM.md). A checksum: S3 requires one (or Content-MD5)
                    // for a PUT into a bucket with Object Lock default retention.
                    checksumAlgorithm: "SHA256",
                    tags: args.tags,
                },
                // Kept when the failover flag is dropped at failback: a stale marker is harmless (the
                // re-promoted cluster holds a higher generation), and deleting versions under Object Lock fails.
                { parent: this, retainOnDelete: true },
            );
        }

        this.role = new aws.iam.Role(
            `${name}-irsa`,
            {
                description: `Fence check of ${args.clusterName}: reads the peer's fence marker in ${args.bucketName}`,
                assumeRolePolicy: pulumi.jsonStringify(irsaTrustPolicy(args.oidcProviderArn, args.oidcIssuer, args.namespace, names.serviceAccount)),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(`${name}-irsa-permissions`, { role: this.role.id, policy: pulumi.jsonStringify(fenceCheckPermissions(args)) }, { parent: this });

        const jobLabels = labels(JOB_LABEL_VALUES.fenceCheck);
        this.serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: { name: names.serviceAccount, namespace: args.namespace, labels: jobLabels, annotations: { "eks.amazonaws.com/role-arn": this.role.arn } },
                // The job calls the API server with this account's token (scripts/fence-check.sh).
                automountServiceAccountToken: true,
            },
            { parent: this },
        );
        this.rbacRole = new k8s.rbac.v1.Role(
            `${name}-role`,
            { metadata: { name: names.role, namespace: args.namespace, labels: jobLabels }, rules: fenceCheckRbacRules(args.clusterName) },
            { parent: this },
        );
        this.roleBinding = new k8s.rbac.v1.RoleBinding(
            `${name}-role-binding`,
            {
                metadata: { name: names.roleBinding, namespace: args.namespace, labels: jobLabels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.rbacRole.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: args.namespace }],
            },
            { parent: this },
        );

        const env: Record<string, string> = {
            ...fenceCheckEnv({
                cluster: args.clusterName,
                peerCluster: args.peerClusterName,
                role: args.role,
                promotionGeneration: args.promotionGeneration,
                bucket: args.bucketName,
            }),
            AWS_DEFAULT_REGION: args.region,
            TMPDIR: SCRATCH,
            ...(args.pushgatewayUrl ? { PUSHGATEWAY_URL: args.pushgatewayUrl } : {}),
        };
        this.cronJob = new k8s.batch.v1.CronJob(
            `${name}-check`,
            {
                metadata: { name: names.cronJob, namespace: args.namespace, labels: jobLabels },
                spec: scriptCronJobSpec({
                    schedule: FENCE_CHECK_SCHEDULE,
                    labels: jobLabels,
                    serviceAccountName: this.serviceAccount.metadata.name,
                    container: JOB_LABEL_VALUES.fenceCheck,
                    script: FENCE_CHECK.script,
                    image: args.image,
                    env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
                    // It reads one small object and makes one API call.
                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
                    scriptsConfigMap: args.scriptsConfigMap,
                    scratchSize: "16Mi",
                }),
            },
            { parent: this, dependsOn: [this.roleBinding] },
        );

        this.registerOutputs({ marker: this.marker?.key, cronJob: this.cronJob.metadata.name });
    }
}

/** Read the peer's marker, and nothing else, in this region's bucket. */
export function fenceCheckPermissions(args: FencingArgs): aws.iam.PolicyDocument {
    const key = fenceMarkerKey(args.peerClusterName);
    return {
        Version: "2012-10-17",
        Statement: [
            {
                // Without ListBucket S3 answers a missing object with 403, not 404 (S3 API reference,
                // HeadObject), and the job would fail every run while there is no marker. IfExists: the
                // 404 decision is made without a prefix; a listing that names one is held to the marker.
                Sid: "ListFenceMarker",
                Effect: "Allow",
                Action: "s3:ListBucket",
                Resource: args.bucketArn,
                Condition: { StringLikeIfExists: { "s3:prefix": [key] } },
            },
            { Sid: "ReadPeerFenceMarker", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${args.bucketArn}/${key}` },
            bucketKeyStatement(args.keyArn, args.region, ["kms:Decrypt"]),
        ],
    };
}
