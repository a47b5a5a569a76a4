// PostgreSQL on Kubernetes with CloudNativePG: the Cluster in the distributed topology, the
// Barman Cloud plugin ObjectStores it archives to and recovers from, the ScheduledBackup, and
// the IAM role (IRSA) its pods use to reach S3.
//
// Both stacks declare both clusters in `externalClusters` and name the same primary in
// `spec.replica.primary`; a cluster whose `self` equals `primary` is the primary, any other is
// a replica cluster following `source`. Switching the stack role changes only `primary` (plus
// the promotion token on a planned switchover): CloudNativePG demotes or promotes in place.
//
// Rebuild (failback): spec.bootstrap is a pure function of (home region, drstack:rebuildGeneration),
// never of the role (config/derive.ts), and the generation is also an annotation. A change of
// either replaces the Cluster (replaceOnChanges; CustomResources need it because the Kubernetes
// provider cannot know which fields of a CR force a replacement: pulumi.com/docs/iac/concepts/
// resources/options/replaceonchanges/), deleting the old object first because its name is fixed
// (deleteBeforeReplace). ignoreChanges would not do: the engine keeps the OLD value of an ignored
// property even when the resource is replaced, so a rebuild would come back with initdb.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DrConfig } from "../../config";
import { ANNOTATIONS, BARMAN_CLOUD_PLUGIN, BUCKET_PREFIXES, clusterObjectNames, COMPONENT_TYPES } from "../../model/contract";
import { bucketKeyStatement, irsaTrustPolicy, listPrefixesStatement } from "../irsa";
import { ManagedRoleSpec } from "./roles";

export interface PostgresClusterArgs {
    /** This region's cluster name; also its barman server name, i.e. its key prefix in the bucket. */
    clusterName: string;
    /** The peer region's cluster name (its WAL arrives in this region's bucket under this prefix). */
    peerClusterName: string;
    /** The cluster that is primary in the distributed topology: this one when the stack role is primary. */
    primaryClusterName: string;
    /** How the cluster is created: initdb (home region, first build) or recovery from the peer's archive (Topology.bootstrap). */
    bootstrap: "initdb" | "recovery";
    /** drstack:rebuildGeneration: raising it recreates the cluster (bootstrap by recovery from the peer). */
    rebuildGeneration: number;
    /** Namespace of the cluster. */
    namespace: pulumi.Input<string>;
    /** This region's backup bucket (the replicated peer archive lands here too). */
    bucketName: pulumi.Input<string>;
    bucketArn: pulumi.Input<string>;
    /** KMS key of the bucket. */
    keyArn: pulumi.Input<string>;
    /** AWS region of the bucket (for KMS ViaService conditions). */
    region: string;
    /** WAL archive_timeout, derived from the RPO by the config module, e.g. "270s". */
    archiveTimeout: string;
    /** Barman retention policy in days: the recovery window. */
    retentionDays: number;
    /** PostgreSQL sizing and tuning from config. */
    postgres: DrConfig["postgres"];
    /** CloudNativePG schedule (6 fields) of base backups. */
    baseBackupSchedule: string;
    /** IAM OIDC provider ARN and issuer of the EKS cluster, for IRSA. */
    oidcProviderArn: string;
    oidcIssuer: string;
    /** Stream from the peer's primary too, when configured. */
    streaming?: DrConfig["streaming"];
    /** Planned switchover: the demoted peer's token, promoting this cluster without data loss. */
    promotionToken?: pulumi.Input<string | undefined>;
    /** CloudNativePG managed roles (spec.managed.roles), with their basic-auth Secrets (roles.ts). */
    managedRoles: ManagedRoleSpec[];
    /** Tags for the IAM role. */
    tags?: Record<string, string>;
}

export class PostgresCluster extends pulumi.ComponentResource {
    public readonly irsaRole: aws.iam.Role;
    public readonly objectStore: k8s.apiextensions.CustomResource;
    public readonly peerObjectStore: k8s.apiextensions.CustomResource;
    public readonly cluster: k8s.apiextensions.CustomResource;
    public readonly scheduledBackup: k8s.apiextensions.CustomResource;
    /** Set by CloudNativePG once this cluster has been demoted: the peer's promotion token. */
    public readonly demotionToken: pulumi.Output<string | undefined>;

    constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.postgresCluster, name, args, opts);
        const self = args.clusterName;
        const peer = args.peerClusterName;
        const pg = args.postgres;

        this.irsaRole = new aws.iam.Role(
            `${name}-irsa`,
            {
                description: `CloudNativePG cluster ${self}: WAL archive and base backups in S3`,
                // CloudNativePG names the pods' service account after the cluster.
                assumeRolePolicy: pulumi.jsonStringify(irsaTrustPolicy(args.oidcProviderArn, args.oidcIssuer, args.namespace, args.clusterName)),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${name}-irsa-permissions`,
            { role: this.irsaRole.id, policy: pulumi.jsonStringify(archivePermissions(args)) },
            { parent: this },
        );

        const destinationPath = pulumi.interpolate`s3://${args.bucketName}/`;
        this.objectStore = new k8s.apiextensions.CustomResource(
            `${name}-object-store`,
            {
                apiVersion: "barmancloud.cnpg.io/v1",
                kind: "ObjectStore",
                metadata: { name: clusterObjectNames(self).archiveObjectStore, namespace: args.namespace },
                spec: {
                    configuration: {
                        destinationPath,
                        s3Credentials: { inheritFromIAMRole: true },
                        // No `encryption`: the plugin then sends no SSE header and S3 applies the bucket default,
                        // SSE-KMS with the bucket's customer-managed key. `aws:kms` would send the header without a
                        // key id (the ObjectStore CRD @v0.13.0 has no key id field), which S3 serves with the
                        // AWS-managed aws/s3 key, and which the bucket policy denies (backupBucket.ts).
                        wal: { compression: pg.walCompression, maxParallel: pg.walMaxParallel },
                        // immediateCheckpoint: the plugin then runs barman-cloud-backup --immediate-checkpoint
                        // (cloudnative-pg/barman-cloud pkg/command backup options). Without it the backup waits
                        // for a spread checkpoint, up to checkpoint_completion_target x checkpoint_timeout
                        // (0.9 x 5 min at PostgreSQL's defaults), before it copies anything. The backup that
                        // matters most in a disaster is the new primary's first one after a promotion (its
                        // ScheduledBackup is immediate): until it completes, that region has no base backup of
                        // the cluster now taking writes. One checkpoint's I/O burst per backup is the cost.
                        data: { compression: pg.backupCompression, jobs: pg.backupJobs, immediateCheckpoint: true },
                    },
                    retentionPolicy: `${args.retentionDays}d`,
                },
            },
            { parent: this },
        );
        // The peer's archive as replicated into this region's bucket: read-only, no retention
        // here (the peer's own stack applies retention at the source; deletions replicate).
        this.peerObjectStore = new k8s.apiextensions.CustomResource(
            `${name}-peer-object-store`,
            {
                apiVersion: "barmancloud.cnpg.io/v1",
                kind: "ObjectStore",
                metadata: { name: clusterObjectNames(peer).replicatedArchiveObjectStore, namespace: args.namespace },
                spec: { configuration: { destinationPath, s3Credentials: { inheritFromIAMRole: true } } },
            },
            { parent: this },
        );

        const parameters: Record<string, string> = {
            ...pg.parameters,
            archive_timeout: args.archiveTimeout,
            wal_level: pg.walLevel,
            max_slot_wal_keep_size: pg.maxSlotWalKeepSize,
        };
        const replica: Record<string, pulumi.Input<string | undefined>> = {
            self,
            primary: args.primaryClusterName,
            source: peer,
        };
        if (args.promotionToken !== undefined) {
            replica.promotionToken = args.promotionToken;
        }

        this.cluster = new k8s.apiextensions.CustomResource(
            `${name}-cluster`,
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name: self, namespace: args.namespace, annotations: { [ANNOTATIONS.rebuildGeneration]: String(args.rebuildGeneration) } },
                spec: {
                    instances: pg.instances,
                    imageName: pg.imageName,
                    postgresql: { parameters },
                    storage: pg.storage,
                    walStorage: pg.walStorage,
                    resources: pg.resources,
                    replicationSlots: { highAvailability: { enabled: true } },
                    // The name the peer streams from must be in the generated server certificate for verify-full.
                    ...(args.streaming?.advertisedHost ? { certificates: { serverAltDNSNames: [args.streaming.advertisedHost] } } : {}),
                    // CloudNativePG names the pods' service account after the cluster; IRSA trusts exactly that one.
                    serviceAccountTemplate: { metadata: { annotations: { "eks.amazonaws.com/role-arn": this.irsaRole.arn } } },
                    plugins: [
                        {
                            name: BARMAN_CLOUD_PLUGIN,
                            isWALArchiver: true,
                            parameters: { barmanObjectName: clusterObjectNames(self).archiveObjectStore, serverName: self },
                        },
                    ],
                    // recovery.source is the peer's external cluster: its archive as replicated into this region's bucket.
                    bootstrap:
                        args.bootstrap === "initdb"
                            ? { initdb: { database: pg.database, owner: pg.database, dataChecksums: true } }
                            : { recovery: { source: peer, database: pg.database, owner: pg.database } },
                    externalClusters: [
                        {
                            name: self,
                            plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: clusterObjectNames(self).archiveObjectStore, serverName: self } },
                        },
                        peerExternalCluster(peer, args.streaming),
                    ],
                    replica,
                    // Applied by the operator on the primary only; a replica cluster receives them through WAL.
                    managed: { roles: args.managedRoles },
                },
                // Declared so the provider reads it back: CloudNativePG publishes the demotion token here.
                status: undefined,
            },
            {
                parent: this,
                dependsOn: [this.objectStore, this.peerObjectStore],
                // A role flip never changes these (Topology.bootstrap); a rebuild generation does, and recreates
                // the cluster. Bracket notation for the annotation key (pulumi.com/docs/reference/property-paths/).
                replaceOnChanges: CLUSTER_REPLACE_ON_CHANGES,
                deleteBeforeReplace: true,
            },
        );

        this.scheduledBackup = new k8s.apiextensions.CustomResource(
            `${name}-base-backup`,
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "ScheduledBackup",
                metadata: { name: clusterObjectNames(self).baseBackup, namespace: args.namespace },
                spec: {
                    schedule: args.baseBackupSchedule,
                    cluster: { name: self },
                    method: "plugin",
                    pluginConfiguration: { name: BARMAN_CLOUD_PLUGIN },
                    backupOwnerReference: "self",
                    immediate: true,
                    target: "prefer-standby",
                },
            },
            { parent: this, dependsOn: [this.cluster] },
        );

        this.demotionToken = pulumi
            .output((this.cluster as unknown as { status?: pulumi.Output<any> }).status)
            .apply((status) => (status?.demotionToken as string | undefined) || undefined);
        this.registerOutputs({ irsaRoleArn: this.irsaRole.arn, demotionToken: this.demotionToken });
    }
}

/** What recreates the Cluster: its bootstrap, and the rebuild generation annotation. */
export const CLUSTER_REPLACE_ON_CHANGES = ["spec.bootstrap", `metadata.annotations["${ANNOTATIONS.rebuildGeneration}"]`];

function peerExternalCluster(peer: string, streaming: DrConfig["streaming"]): Record<string, unknown> {
    const external: Record<string, unknown> = {
        name: peer,
        plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: clusterObjectNames(peer).replicatedArchiveObjectStore, serverName: peer } },
    };
    if (streaming) {
        // Certificate authentication as CloudNativePG's streaming_replica user: no password to leak.
        external.connectionParameters = {
            host: streaming.host,
            port: String(streaming.port),
            user: "streaming_replica",
            dbname: "postgres",
            sslmode: streaming.sslmode,
        };
        external.sslKey = { name: streaming.tlsSecretName, key: "tls.key" };
        external.sslCert = { name: streaming.tlsSecretName, key: "tls.crt" };
        external.sslRootCert = { name: streaming.tlsSecretName, key: "ca.crt" };
    }
    return external;
}

/** Write its own prefix, read the peer's replicated prefix, use the bucket's key via S3 only. */
export function archivePermissions(args: PostgresClusterArgs): aws.iam.PolicyDocument {
    const own = args.clusterName;
    const peer = args.peerClusterName;
    return {
        Version: "2012-10-17",
        Statement: [
            listPrefixesStatement("ListOwnAndPeerArchive", args.bucketArn, [BUCKET_PREFIXES.barman(own), BUCKET_PREFIXES.barman(peer)]),
            {
                // Delete: barman-cloud applies the retention policy (delete markers; versions stay
                // for the recovery window through the bucket lifecycle and Object Lock).
                Sid: "WriteOwnArchive",
                Effect: "Allow",
                Action: ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                Resource: pulumi.interpolate`${args.bucketArn}/${own}/*`,
            },
            {
                Sid: "ReadPeerReplicatedArchive",
                Effect: "Allow",
                Action: "s3:GetObject",
                Resource: pulumi.interpolate`${args.bucketArn}/${peer}/*`,
            },
            bucketKeyStatement(args.keyArn, args.region),
        ],
    };
}
