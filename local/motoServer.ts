// moto_server, the S3 (and KMS) emulator, on a free loopback port. It keeps everything in
// memory: restarting it loses every object, so an outage is simulated with a TcpProxy in front
// of it, never by stopping it.

import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { freePort, LOOPBACK } from "./ports";
import { ManagedProcess, startProcess, waitFor } from "./processes";
import { requireTools, TOOLS, which } from "./tools";
import { makeTempDir, removeDir, serviceUser } from "./user";

/** The region a server answers for when MotoOptions.region is not given. */
const DEFAULT_REGION = "us-east-1";

export interface MotoOptions {
    region?: string;
    startTimeoutMs?: number;
}

function httpStatus(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.setTimeout(2000, () => req.destroy(new Error("timeout")));
        req.once("error", reject);
    });
}

function withoutAwsSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("AWS_")));
}

/** A call to moto's JSON-protocol APIs (KMS); moto routes by the credential scope, not the signature. */
function awsJsonCall(endpoint: string, region: string, service: string, target: string, body: object): Promise<any> {
    return new Promise((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = http.request(
            `${endpoint}/`,
            {
                method: "POST",
                headers: {
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": target,
                    Authorization: `AWS4-HMAC-SHA256 Credential=local/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
                    "Content-Length": Buffer.byteLength(payload),
                },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    if ((res.statusCode ?? 500) >= 300) {
                        reject(new Error(`${target} failed (${res.statusCode}): ${text}`));
                        return;
                    }
                    try {
                        resolve(JSON.parse(text));
                    } catch {
                        reject(new Error(`${target}: unexpected answer ${text.slice(0, 200)}`));
                    }
                });
            },
        );
        req.once("error", reject);
        req.end(payload);
    });
}

export class MotoServer {
    /** Credentials moto accepts (it does not check them). */
    static readonly credentials = { accessKeyId: "drstack-local", secretAccessKey: "drstack-local" };
    private client: S3Client | undefined;

    private constructor(
        readonly port: number,
        readonly region: string,
        private readonly process: ManagedProcess,
        private readonly logDir: string,
    ) {}

    get endpoint(): string {
        return `http://${LOOPBACK}:${this.port}`;
    }

    static async start(options: MotoOptions = {}): Promise<MotoServer> {
        requireTools([TOOLS.motoServer], process.env.PATH ?? "");
        const command = which("moto_server")!;
        // moto runs as root here: no service user needs the log dir; makeTempDir also removes it at exit.
        const logDir = makeTempDir("moto", { ...serviceUser(), runAs: undefined });
        // freePort()'s port can be bound by another server before moto binds it: then moto exits on "Address already in
        // use" and starts again on a new port, as local/httpDaemon.ts and local/postgres.ts do.
        for (let attempt = 1; ; attempt++) {
            const port = await freePort();
            const proc = startProcess("moto_server", command, ["-H", LOOPBACK, "-p", String(port)], {
                // Without the caller's AWS settings: nothing real may leak into the emulator.
                env: { ...withoutAwsSettings(process.env), MOTO_ALLOW_NONEXISTENT_REGION: "true" },
                logFile: path.join(logDir, "moto.log"),
            });
            const server = new MotoServer(port, options.region ?? DEFAULT_REGION, proc, logDir);
            try {
                await waitFor(
                    `moto_server on port ${port}`,
                    async () => {
                        if (!proc.running) {
                            throw new Error(`moto_server exited: ${server.logTail()}`);
                        }
                        // Answered by this moto, not by another server on the same port (ManagedProcess.listensOn).
                        return (await httpStatus(`${server.endpoint}/moto-api/`)) > 0 && proc.listensOn(port);
                    },
                    options.startTimeoutMs ?? 60000,
                );
                return server;
            } catch (err) {
                const log = server.logTail();
                await proc.stop("SIGTERM", 10000);
                if (attempt >= 3 || !/Address already in use/.test(log)) {
                    removeDir(logDir);
                    throw err;
                }
                fs.rmSync(path.join(logDir, "moto.log"), { force: true });
            }
        }
    }

    /** The variables the aws CLI, barman-cloud and the job scripts need to reach this server. */
    awsEnv(): Record<string, string> {
        return MotoServer.awsEnvFor(this.region);
    }

    /** awsEnv() of a server for `region` (the default region when none is given), before it has started. */
    static awsEnvFor(region = DEFAULT_REGION): Record<string, string> {
        return {
            AWS_ACCESS_KEY_ID: MotoServer.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: MotoServer.credentials.secretAccessKey,
            AWS_DEFAULT_REGION: region,
        };
    }

    /** An S3 client for this server (path-style: bucket names are not DNS names here). */
    s3(): S3Client {
        this.client ??= new S3Client({
            endpoint: this.endpoint,
            region: this.region,
            forcePathStyle: true,
            credentials: MotoServer.credentials,
        });
        return this.client;
    }

    async createBucket(name: string, options: { versioning?: boolean } = {}): Promise<void> {
        await this.s3().send(new CreateBucketCommand({ Bucket: name }));
        if (options.versioning) {
            await this.s3().send(
                new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }),
            );
        }
    }

    /** Creates a KMS key (and alias, if given) in moto's KMS; returns the key id. */
    async createKmsKey(alias?: string): Promise<string> {
        const created = await awsJsonCall(this.endpoint, this.region, "kms", "TrentService.CreateKey", {
            Description: "drstack local backup key",
        });
        const keyId: string = created.KeyMetadata.KeyId;
        if (alias) {
            await awsJsonCall(this.endpoint, this.region, "kms", "TrentService.CreateAlias", { AliasName: alias, TargetKeyId: keyId });
        }
        return keyId;
    }

    logTail(lines = 20): string {
        try {
            return fs.readFileSync(path.join(this.logDir, "moto.log"), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
        } catch {
            return "(no moto log)";
        }
    }

    async stop(): Promise<void> {
        this.client?.destroy();
        this.client = undefined;
        await this.process.stop("SIGTERM", 10000);
        removeDir(this.logDir);
    }
}
