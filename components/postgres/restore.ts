// A point-in-time restore (drstack:restore[i]) as a new CloudNativePG Cluster, bootstrapped by
// `recovery` from this region's bucket through the Barman Cloud plugin, with the restore's target.
// What it deliberately lacks:
// - no WAL archiver in `spec.plugins` and no ScheduledBackup: it never writes into any archive
//   (plugin web/docs/usage.md: only `isWALArchiver: true` archives);
// - no DNS record and no Service of drstack's: only the -rw/-ro/-r Services CloudNativePG creates
//   for every cluster, which no application points at; clients reach it by its own app Secret;
// - no protect / retainOnDelete: removing the setting deletes the cluster.
// Its IAM role reads only the source's prefix of the bucket. Everything it declares comes from a
// RestorePlan (config/restore.ts), derived once from the settings.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DrConfig, RestorePlan } from "../../config";
import { BARMAN_CLOUD_PLUGIN, COMPONENT_TYPES, LABELS } from "../../model/contract";
import { bucketKeyStatement, irsaTrustPolicy } from "../irsa";

export interface RestoreClusterArgs {
    plan: RestorePlan;
    namespace: pulumi.Input<string>;
    /** This region's bucket (plan.bucket), its ARN and KMS key. */
    bucketArn: pulumi.Input<string>;
    keyArn: pulumi.Input<string>;
    region: string;
    /** Image, storage and sizing: the same as the region's cluster, so the restored data fits. */
    postgres: DrConfig["postgres"];
    oidcProviderArn: string;
    oidcIssuer: string;
    tags?: Record<string, string>;
}

export class RestoreCluster extends pulumi.ComponentResource {
    public readonly irsaRole: aws.iam.Role;
    public readonly cluster: k8s.apiextensions.CustomResource;

    constructor(name: string, args: RestoreClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.restoreCluster, name, args, opts);
        const { plan, postgres: pg } = args;

        this.irsaRole = new aws.iam.Role(
            `${name}-irsa`,
            {
                description: `CloudNativePG restore ${plan.clusterName}: read ${plan.serverName}'s archive in S3`,
                // CloudNativePG names the pods' service account after the cluster.
                assumeRolePolicy: pulumi.jsonStringify(irsaTrustPolicy(args.oidcProviderArn, args.oidcIssuer, args.namespace, plan.clusterName)),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${name}-irsa-permissions`,
            { role: this.irsaRole.id, policy: pulumi.jsonStringify(restoreReadPermissions(plan.serverName, args.bucketArn, args.keyArn, args.region)) },
            { parent: this },
        );

        const recovery: Record<string, unknown> = { source: plan.serverName, database: pg.database, owner: pg.database };
        if (plan.recoveryTarget) {
            recovery.recoveryTarget = plan.recoveryTarget;
        }
        this.cluster = new k8s.apiextensions.CustomResource(
            `${name}-cluster`,
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: {
                    name: plan.clusterName,
                    namespace: args.namespace,
                    labels: { [LABELS.restore]: plan.name, [LABELS.partOf.key]: LABELS.partOf.value },
                },
                spec: {
                    instances: plan.instances,
                    imageName: pg.imageName,
                    postgresql: { parameters: { ...pg.parameters } },
                    storage: pg.storage,
                    walStorage: pg.walStorage,
                    resources: pg.resources,
                    serviceAccountTemplate: { metadata: { annotations: { "eks.amazonaws.com/role-arn": this.irsaRole.arn } } },
                    bootstrap: { recovery },
                    // Read through the plugin (plugin web/docs/usage.md): the source cluster's ObjectStore in
                    // this region and its barman server name. No `plugins` entry: the restored cluster does not archive.
                    externalClusters: [
                        {
                            name: plan.serverName,
                            plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: plan.objectStore, serverName: plan.serverName } },
                        },
                    ],
                },
            },
            {
                parent: this,
                // A new target or source is a new restore: CloudNativePG reads bootstrap only at creation, so
                // the cluster (a fixed name) is deleted and created again rather than patched.
                replaceOnChanges: ["spec.bootstrap", "spec.externalClusters"],
                deleteBeforeReplace: true,
            },
        );

        this.registerOutputs({ clusterName: plan.clusterName, irsaRoleArn: this.irsaRole.arn });
    }
}

/** Read-only: list and get the source's prefix of the bucket, decrypt with its key through S3. */
export function restoreReadPermissions(
    serverName: string,
    bucketArn: pulumi.Input<string>,
    keyArn: pulumi.Input<string>,
    region: string,
): aws.iam.PolicyDocument {
    const key = bucketKeyStatement(keyArn, region);
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ListSourceArchive",
                Effect: "Allow",
                Action: "s3:ListBucket",
                Resource: bucketArn,
                // IfExists: as for the cluster's own role (components/postgres/cluster.ts), barman-cloud's
                // HeadBucket is authorized as s3:ListBucket without a prefix.
                Condition: { StringLikeIfExists: { "s3:prefix": [`${serverName}/*`] } },
            },
            { Sid: "ReadSourceArchive", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${bucketArn}/${serverName}/*` },
            // Reading SSE-KMS objects needs kms:Decrypt only; nothing is written.
            { ...key, Sid: "DecryptViaS3", Action: ["kms:Decrypt"] },
        ],
    };
}
