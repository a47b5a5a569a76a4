// Checks custom resources against the vendored CRDs (vendor/crds/, see its README) the way the
// Kubernetes API server would, but stricter on one point: the API server silently prunes a field
// its structural schema does not know (a misspelt `spec.replica.primry` just disappears), so here
// every unknown field is an error. Test/tool code, not part of the Pulumi program.
//
// Structural-schema rules followed (Kubernetes docs, "Extend the Kubernetes API with
// CustomResourceDefinitions", sections "Specifying a structural schema", "Field pruning",
// "IntOrString", "RawExtension"):
// - an object keeps only the fields under `properties`, unless `additionalProperties` (a map) or
//   `x-kubernetes-preserve-unknown-fields: true` says otherwise; an object with neither
//   properties nor additionalProperties keeps no fields at all;
// - `x-kubernetes-embedded-resource: true` objects also keep apiVersion, kind and metadata;
// - `x-kubernetes-int-or-string: true` accepts an integer or a string;
// - the root `metadata` is validated by the API server as ObjectMeta, not by the CRD schema.
// - defaults are applied before validation, and the CEL rules (`x-kubernetes-validations`) are
//   evaluated on the defaulted object (tools/crdRules.ts).
// Not checked: transition rules (they read `oldSelf`, so they only apply to updates) and the
// operators' admission webhooks.

import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { appendPath, celProblems } from "./crdRules";

export const CRD_DIR = path.join(__dirname, "..", "vendor", "crds");

type Schema = Record<string, any>;

/** One problem in one object: where (a JSON path like `.spec.replica.primry`) and what. */
export interface CrdProblem {
    path: string;
    message: string;
}

/**
 * The subset of ObjectMeta a client may set; anything else under metadata is an error.
 * `name` is not required: the Kubernetes provider auto-names a resource declared without one.
 */
const OBJECT_META: Schema = {
    type: "object",
    additionalProperties: false,
    properties: {
        name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$" },
        generateName: { type: "string" },
        namespace: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" },
        labels: { type: "object", additionalProperties: { type: "string" } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
        finalizers: { type: "array", items: { type: "string" } },
        ownerReferences: { type: "array", items: { type: "object" } },
    },
};

/**
 * Kubernetes matches `pattern` with Go's RE2, which allows inline flags that JavaScript rejects
 * (PrometheusRule's `partial_response_strategy` has `^(?i)(abort|warn)?$`). A leading `(?i)`
 * becomes the `i` flag, so the pattern means what the API server enforces.
 */
function re2Pattern(pattern: string, flags: string): RegExp {
    const inline = /^(\^?)\(\?i\)/.exec(pattern);
    return inline ? new RegExp(inline[1] + pattern.slice(inline[0].length), flags + "i") : new RegExp(pattern, flags);
}
re2Pattern.code = "re2Pattern";

/** Annotation-only Kubernetes extensions: ajv learns them so that strict mode still rejects typos in the CRDs. */
const KUBERNETES_KEYWORDS = [
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/**
 * A copy of a structural schema in which unknown fields are errors instead of being pruned.
 * Exported for the tests of the transform itself.
 */
export function closeSchema(schema: Schema): Schema {
    const out: Schema = { ...schema };
    if (out["x-kubernetes-int-or-string"] === true && out.anyOf === undefined && out.type === undefined) {
        out.anyOf = [{ type: "integer" }, { type: "string" }];
    }
    if (out.properties) {
        out.properties = Object.fromEntries(Object.entries(out.properties as Record<string, Schema>).map(([k, v]) => [k, closeSchema(v)]));
    }
    if (out.items && typeof out.items === "object") out.items = closeSchema(out.items);
    if (out.additionalProperties && typeof out.additionalProperties === "object") {
        out.additionalProperties = closeSchema(out.additionalProperties);
    }
    for (const combinator of ["allOf", "anyOf", "oneOf"]) {
        if (Array.isArray(out[combinator])) out[combinator] = out[combinator].map(closeSchema);
    }
    if (out.not) out.not = closeSchema(out.not);
    if (out.type === "object" && out["x-kubernetes-preserve-unknown-fields"] !== true && out.additionalProperties === undefined) {
        if (out["x-kubernetes-embedded-resource"] === true) {
            out.properties = {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                ...out.properties,
            };
        }
        out.additionalProperties = false;
    }
    return out;
}

/** The root schema of a served CRD version: closed, with ObjectMeta in place of the CRD's bare `metadata: {type: object}`. */
function rootSchema(openAPIV3Schema: Schema): Schema {
    const closed = closeSchema(openAPIV3Schema);
    return {
        ...closed,
        required: [...new Set(["apiVersion", "kind", "metadata", ...(closed.required ?? [])])],
        properties: { ...closed.properties, metadata: OBJECT_META },
    };
}

/** Pulumi marks secret values with a signature object; the API server sees the plain value. */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[specialSigKey] === specialSecretSig) return unwrapSecrets(record.value);
        return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

function jsonPath(error: ErrorObject): string {
    const segments = error.instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (error.keyword === "additionalProperties") segments.push(String(error.params.additionalProperty));
    return segments.reduce((path: string, s) => appendPath(path, /^\d+$/.test(s) ? Number(s) : s), "") || ".";
}

function describe(error: ErrorObject): string {
    switch (error.keyword) {
        case "additionalProperties":
            return "unknown field (the API server would silently drop it)";
        case "enum":
            return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
        default:
            return error.message ?? error.keyword;
    }
}

/** Validators for every served version of every CRD in a directory, by `group/version` and kind. */
export class CrdValidator {
    private readonly validators = new Map<string, { validate: ValidateFunction; schema: Schema }>();

    constructor(dir: string = CRD_DIR) {
        // useDefaults: the API server defaults an object before it validates it (CEL rules see the defaults).
        const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, strictTuples: false, code: { regExp: re2Pattern } });
        addFormats(ajv);
        for (const keyword of KUBERNETES_KEYWORDS) ajv.addKeyword({ keyword });
        for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
            for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
                const crd = doc.toJS() as Schema | null;
                if (crd?.kind !== "CustomResourceDefinition") continue;
                for (const version of crd.spec.versions as Schema[]) {
                    if (!version.served) continue;
                    const key = `${crd.spec.group}/${version.name} ${crd.spec.names.kind}`;
                    const schema = rootSchema(version.schema.openAPIV3Schema);
                    this.validators.set(key, { validate: ajv.compile(schema), schema });
                }
            }
        }
    }

    /** Served `apiVersion Kind` pairs the vendored CRDs define. */
    kinds(): string[] {
        return [...this.validators.keys()].sort();
    }

    /** Every problem the object has against its CRD; empty when the API server would store it as sent. */
    validate(object: unknown): CrdProblem[] {
        const plain = unwrapSecrets(object) as Schema;
        const key = `${plain?.apiVersion} ${plain?.kind}`;
        const crd = this.validators.get(key);
        if (!crd) {
            return [{ path: ".", message: `no vendored CRD serves ${key} (have: ${this.kinds().join("; ")}); add it under vendor/crds/` }];
        }
        // CEL rules run once the schema passes, so their messages do not pile onto a schema error.
        if (crd.validate(plain)) return celProblems(crd.schema, plain);
        const problems = (crd.validate.errors ?? []).map((e) => ({ path: jsonPath(e), message: describe(e) }));
        // anyOf reports each failed branch and then itself: keep one line per distinct problem.
        return problems.filter((p, i) => problems.findIndex((q) => q.path === p.path && q.message === p.message) === i);
    }
}
