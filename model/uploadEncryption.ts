// Which S3 uploads a bucket policy lets through, by their encryption headers: a small evaluator of
// the bucket policy's Deny statements for s3:PutObject, with IAM's condition semantics
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
// operators in a Condition block are ANDed, values of one key ORed; `Null: "true"` means the key is
// absent; StringNotEquals on an absent key is true; `...IfExists` is true when the key is absent.
// The policy pack and the tests check the backup bucket's policy with it against the requests below.
// Pure: no Pulumi import.

/** Condition keys of a PutObject request's encryption headers. */
export const SSE_KEYS = { algorithm: "s3:x-amz-server-side-encryption", keyId: "s3:x-amz-server-side-encryption-aws-kms-key-id" } as const;

export interface UploadRequest {
    title: string;
    /** Condition key -> value; absent keys are not sent. */
    keys: Record<string, string>;
    /** Must the bucket policy allow it (true) or deny it (false)? */
    allowed: boolean;
}

/** The uploads that decide whether objects can land under any key but the bucket's CMK. */
export function uploadCases(bucketKeyArn: string): UploadRequest[] {
    return [
        { title: "no encryption header (bucket default SSE-KMS applies)", keys: {}, allowed: true },
        { title: "aws:kms with the bucket's key", keys: { [SSE_KEYS.algorithm]: "aws:kms", [SSE_KEYS.keyId]: bucketKeyArn }, allowed: true },
        { title: "AES256 (SSE-S3)", keys: { [SSE_KEYS.algorithm]: "AES256" }, allowed: false },
        { title: "aws:kms without a key id (AWS-managed aws/s3 key)", keys: { [SSE_KEYS.algorithm]: "aws:kms" }, allowed: false },
        {
            title: "aws:kms with another key",
            keys: { [SSE_KEYS.algorithm]: "aws:kms", [SSE_KEYS.keyId]: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000" },
            allowed: false,
        },
    ];
}

const list = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);

function operatorHolds(operator: string, expected: Record<string, unknown>, keys: Record<string, string>): boolean {
    const ifExists = operator.endsWith("IfExists");
    const base = ifExists ? operator.slice(0, -"IfExists".length) : operator;
    return Object.entries(expected).every(([key, values]) => {
        const actual = keys[key];
        if (base === "Null") return list(values).includes(String(actual === undefined));
        if (actual === undefined) return ifExists || base.startsWith("StringNot");
        const like = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(actual);
        switch (base) {
            case "StringEquals":
                return list(values).includes(actual);
            case "StringNotEquals":
                return !list(values).includes(actual);
            case "StringLike":
                return list(values).some(like);
            case "StringNotLike":
                return !list(values).some(like);
            default:
                throw new Error(`condition operator ${operator} is not understood by model/uploadEncryption.ts`);
        }
    });
}

/** Statement ids of the Deny statements that deny this PutObject (empty: the policy lets it through). */
export function denyingStatements(policy: { Statement?: unknown }, request: UploadRequest): string[] {
    const statements = ([] as any[]).concat(policy.Statement ?? []);
    return statements
        .filter((s) => s.Effect === "Deny" && list(s.Action).some((a) => a === "s3:PutObject" || a === "s3:*" || a === "*"))
        // Statements on transport (Bool aws:SecureTransport) do not apply: these requests are all over TLS.
        .filter((s) => !s.Condition?.Bool)
        .filter((s) => Object.entries((s.Condition ?? {}) as Record<string, Record<string, unknown>>).every(([op, expected]) => operatorHolds(op, expected, request.keys)))
        .map((s, i) => s.Sid ?? `#${i}`);
}

/** Problems of a bucket policy: every upload case that it allows but must deny, or denies but must allow. */
export function uploadEncryptionProblems(policy: { Statement?: unknown }, bucketKeyArn: string): string[] {
    return uploadCases(bucketKeyArn).flatMap((request) => {
        const denied = denyingStatements(policy, request);
        if (request.allowed && denied.length > 0) return [`denies a PutObject with ${request.title} (statements ${denied.join(", ")})`];
        if (!request.allowed && denied.length === 0) return [`allows a PutObject with ${request.title}; only the bucket's key ${bucketKeyArn} may encrypt uploads`];
        return [];
    });
}
