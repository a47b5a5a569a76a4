// Config overrides that promote a stack the way the README runbooks do: the role plus a promotion
// generation above both stacks' (the non-home dr stack: 1), and for an emergency failover the
// confirmation and its time (written into the fence marker).
export const PROMOTE_DR = { "drstack:role": "primary", "drstack:promotion.generation": 1 } as const;
export const PROMOTED_AT = "2026-11-24T11:00:00Z";
export const EMERGENCY_DR = { ...PROMOTE_DR, "drstack:emergencyFailover": true, "drstack:promotion.at": PROMOTED_AT } as const;
/** The primary stack's outputs once a planned switchover demoted it: what `pulumi up -s dr` with PROMOTE_DR reads. */
export const DEMOTED_PRIMARY_PEER = {
    peers: { "acme/drstack/primary": { role: "standby", demotionToken: "token-of-the-demoted-primary", backupBucket: "backups-acme-orders-us-east-1" } },
};
