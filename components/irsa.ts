// IAM roles for Kubernetes service accounts (IRSA): the trust policy that lets exactly one
// service account assume a role, and the KMS statement every S3 reader/writer of a backup
// bucket needs. Shared by the PostgreSQL cluster and the backup jobs.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Trust for one service account of one EKS cluster (OIDC provider), audience STS. */
export function irsaTrustPolicy(
    oidcProviderArn: string,
    oidcIssuer: string,
    namespace: pulumi.Input<string>,
    serviceAccount: string,
): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${oidcIssuer}:sub`]: pulumi.interpolate`system:serviceaccount:${namespace}:${serviceAccount}`,
                        [`${oidcIssuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

/** Use of the bucket's KMS key, only through S3 in the bucket's region (a reader needs only kms:Decrypt). */
export function bucketKeyStatement(
    keyArn: pulumi.Input<string>,
    region: string,
    actions: string[] = ["kms:Decrypt", "kms:GenerateDataKey"],
): aws.iam.PolicyStatement {
    return {
        Sid: "UseBucketKeyViaS3",
        Effect: "Allow",
        Action: actions,
        Resource: keyArn,
        Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
    };
}

/**
 * s3:ListBucket on the bucket, for listings under the given prefixes only. IfExists is deliberate:
 * barman-cloud (archiving, base backups, restore) first calls HeadBucket
 * (barman/cloud_providers/aws_s3.py, _check_bucket_existence, which re-raises a 403), and AWS
 * authorizes HeadBucket as s3:ListBucket with no s3:prefix key (API_HeadBucket.html,
 * "Permissions"). A plain StringLike is false when the key is absent, so it would deny HeadBucket
 * and stop WAL archiving. The price: an unprefixed ListObjects is indistinguishable from HeadBucket
 * and is allowed too, revealing key names (never contents: GetObject stays prefix-scoped).
 */
export function listPrefixesStatement(sid: string, bucketArn: pulumi.Input<string>, prefixes: string[]): aws.iam.PolicyStatement {
    return {
        Sid: sid,
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        Condition: { StringLikeIfExists: { "s3:prefix": prefixes.map((p) => `${p}*`) } },
    };
}
