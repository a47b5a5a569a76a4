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
