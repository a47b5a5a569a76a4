// CloudNativePG's demotion/promotion token, as the drill produces and reads it. A demoted primary
// publishes status.demotionToken: base64 of JSON with fields from pg_controldata
// (pkg/utils/parser.go PgControldataTokenContent @v1.30.0; docs/src/replica_cluster.md "Demotion").
// The program passes the peer's token on as spec.replica.promotionToken; the replica is promoted
// once it has replayed up to the token's latestCheckpointREDOLocation on the same system
// identifier and timeline (pkg/promotiontoken/promotion_token.go ValidateAgainstInstanceStatus).
// The drill reads the same facts from the stopped local primary's pg_controldata.

import { z } from "zod";

/** The token's JSON (every field is required by CloudNativePG's IsValid). */
export const PromotionTokenSchema = z
    .object({
        latestCheckpointTimelineID: z.string().regex(/^\d+$/),
        redoWalFile: z.string().regex(/^[0-9A-F]{24}$/),
        databaseSystemIdentifier: z.string().regex(/^\d+$/),
        latestCheckpointREDOLocation: z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/),
        timeOfLatestCheckpoint: z.string().min(1),
        operatorVersion: z.string().min(1),
    })
    .strict();

export type PromotionToken = z.infer<typeof PromotionTokenSchema>;

/** What the drill's tokens say they were made by (CloudNativePG puts its own version here). */
export const DRILL_TOKEN_OPERATOR_VERSION = "drstack-drill (pg_controldata, CloudNativePG 1.30 token format)";

/** Encodes a token as CloudNativePG publishes it in status.demotionToken. */
export function encodePromotionToken(token: PromotionToken): string {
    return Buffer.from(JSON.stringify(PromotionTokenSchema.parse(token)), "utf8").toString("base64");
}

/** Decodes spec.replica.promotionToken; a token that is not CloudNativePG's format is an error naming the field. */
export function decodePromotionToken(encoded: string, where: string): PromotionToken {
    let json: unknown;
    try {
        json = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
    } catch {
        throw new Error(`${where}: promotionToken is not base64-encoded JSON (CloudNativePG's status.demotionToken format)`);
    }
    const parsed = PromotionTokenSchema.safeParse(json);
    if (!parsed.success) {
        throw new Error(`${where}: promotionToken does not carry CloudNativePG's token fields: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
    }
    return parsed.data;
}

/** The token of a cleanly stopped server, from `pg_controldata` output (LANG=C). */
export function tokenFromControlData(controldata: string): PromotionToken {
    const field = (label: string): string => {
        const m = new RegExp(`^${label.replace(/[()']/g, "\\$&")}:\\s+(.+)$`, "m").exec(controldata);
        if (!m) throw new Error(`pg_controldata printed no "${label}"`);
        return m[1].trim();
    };
    const state = field("Database cluster state");
    if (state !== "shut down") {
        throw new Error(`the demoted server is "${state}", not "shut down": a demotion token needs a clean shutdown checkpoint`);
    }
    return {
        latestCheckpointTimelineID: field("Latest checkpoint's TimeLineID"),
        redoWalFile: field("Latest checkpoint's REDO WAL file"),
        databaseSystemIdentifier: field("Database system identifier"),
        latestCheckpointREDOLocation: field("Latest checkpoint's REDO location"),
        timeOfLatestCheckpoint: field("Time of latest checkpoint"),
        operatorVersion: DRILL_TOKEN_OPERATOR_VERSION,
    };
}
