// A STAND-IN for the Kubernetes API server, as far as the fence check (scripts/fence-check.sh) uses
// it: GET of one CloudNativePG Cluster and JSON merge patches (RFC 7386) of it, with a bearer-token
// check, every request recorded. Not a real API server: no admission, no watch, one object. Used by
// test/integration/fenceCheck.test.ts and by the drill's old-primary-returns scenario, where a
// patch that fences the Cluster stops the local PostgreSQL as CloudNativePG would (onPatch).
import * as http from "http";
import * as https from "https";
import { CNPG_FENCING } from "../model/fence";
import { freePort, LOOPBACK } from "./ports";

export interface ApiRequest {
    method: string;
    path: string;
    contentType: string;
    authorization: string;
    body: string;
}

type Json = { [k: string]: unknown };

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
    const out: Json = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
    for (const [k, v] of Object.entries(patch as Json)) {
        if (v === null) delete out[k];
        else out[k] = mergePatch(out[k], v);
    }
    return out;
}

export interface KubeApiStandInOptions {
    namespace: string;
    /** The one Cluster it serves. */
    cluster: string;
    /** The bearer token it accepts (the service account token the job reads from KUBE_TOKEN_FILE). */
    token: string;
    /** The Cluster's spec as served. */
    spec?: Json;
}

/** STAND-IN for the Kubernetes API server: one Cluster object, bearer-token check, merge patch only. */
export class KubeApiStandIn {
    readonly requests: ApiRequest[] = [];
    cluster: Json = {};
    /** When set, every request is answered with this status and a Kubernetes Status body. */
    failWith: { code: number; message: string; methods: string[] } | undefined;
    /** Called after each applied patch with the patched Cluster (the drill's operator emulation). */
    onPatch: ((cluster: Json) => void) | undefined;
    /** The Cluster's API path (clusters.postgresql.cnpg.io is namespaced). */
    readonly clusterPath: string;

    private constructor(private readonly server: http.Server, readonly port: number, readonly options: KubeApiStandInOptions) {
        this.clusterPath = `/apis/${CNPG_FENCING.apiGroup}/${CNPG_FENCING.apiVersion}/namespaces/${options.namespace}/${CNPG_FENCING.resource}/${options.cluster}`;
    }

    get url(): string {
        return `${this.server instanceof https.Server ? "https" : "http"}://${LOOPBACK}:${this.port}`;
    }

    /** Plain HTTP, or HTTPS with `tls` (as the real API server, whose CA the pod gets). */
    static async start(options: KubeApiStandInOptions, tls?: { key: string; cert: string }): Promise<KubeApiStandIn> {
        const port = await freePort();
        let api: KubeApiStandIn | undefined;
        const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => api!.handle(req, Buffer.concat(chunks).toString("utf8"), res));
        };
        const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
        api = new KubeApiStandIn(server, port, options);
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, LOOPBACK, () => resolve());
        });
        api.reset();
        return api;
    }

    reset(annotations?: Record<string, string>): void {
        this.requests.length = 0;
        this.failWith = undefined;
        this.cluster = {
            apiVersion: `${CNPG_FENCING.apiGroup}/${CNPG_FENCING.apiVersion}`,
            kind: "Cluster",
            metadata: { name: this.options.cluster, namespace: this.options.namespace, resourceVersion: "100", ...(annotations ? { annotations } : {}) },
            spec: this.options.spec ?? {},
        };
    }

    patches(): ApiRequest[] {
        return this.requests.filter((r) => r.method === "PATCH");
    }

    annotation(): string | undefined {
        return ((this.cluster.metadata as Json).annotations as Record<string, string> | undefined)?.[CNPG_FENCING.annotation];
    }

    private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
        const r: ApiRequest = {
            method: req.method ?? "",
            path: req.url ?? "",
            contentType: String(req.headers["content-type"] ?? ""),
            authorization: String(req.headers.authorization ?? ""),
            body,
        };
        this.requests.push(r);
        const answer = (code: number, object: unknown) => {
            res.writeHead(code, { "Content-Type": "application/json" });
            res.end(JSON.stringify(object));
        };
        const status = (code: number, message: string) => answer(code, { kind: "Status", apiVersion: "v1", status: "Failure", message, code });
        if (r.authorization !== `Bearer ${this.options.token}`) return status(401, "Unauthorized");
        if (this.failWith && this.failWith.methods.includes(r.method)) return status(this.failWith.code, this.failWith.message);
        if (r.path !== this.clusterPath) return status(404, `the server could not find the requested resource (${r.path})`);
        if (r.method === "GET") return answer(200, this.cluster);
        if (r.method === "PATCH") {
            // Custom resources accept JSON patch and merge patch, not strategic merge patch.
            if (r.contentType !== "application/merge-patch+json") return status(415, `unsupported patch type ${r.contentType}`);
            this.cluster = mergePatch(this.cluster, JSON.parse(body)) as Json;
            (this.cluster.metadata as Json).resourceVersion = String(Number((this.cluster.metadata as Json).resourceVersion) + 1);
            answer(200, this.cluster);
            this.onPatch?.(this.cluster);
            return;
        }
        return status(405, `method ${r.method} not allowed`);
    }

    async stop(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
