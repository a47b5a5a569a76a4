// A stand-in for the Prometheus Pushgateway that records what jobs push, so tests can check
// the URL (job and grouping labels), the method and the metrics text.

import * as http from "http";
import { freePort, LOOPBACK } from "./ports";

export interface Push {
    method: string;
    path: string;
    body: string;
}

export class FakePushgateway {
    readonly pushes: Push[] = [];

    private constructor(
        private readonly server: http.Server,
        readonly port: number,
    ) {}

    get url(): string {
        return `http://${LOOPBACK}:${this.port}`;
    }

    static async start(): Promise<FakePushgateway> {
        const port = await freePort();
        let gateway: FakePushgateway | undefined;
        const server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                gateway!.pushes.push({ method: req.method ?? "", path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8") });
                res.writeHead(200);
                res.end();
            });
        });
        gateway = new FakePushgateway(server, port);
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, LOOPBACK, () => resolve());
        });
        return gateway;
    }

    /** Pushes whose path is exactly `path`. */
    pushesTo(path: string): Push[] {
        return this.pushes.filter((p) => p.path === path);
    }

    async stop(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
