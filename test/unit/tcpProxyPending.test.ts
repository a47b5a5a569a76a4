// A TcpProxy can listen before its upstream's port is known (drill/topology.ts starts moto_server and the
// primary side by side, and the primary's archive_command names the proxy). A connection made in the meantime
// must wait for the upstream and then carry its bytes both ways, not be refused or lose what it sent; if the
// upstream never comes, it must be reset rather than hang.

import { strict as assert } from "assert";
import * as net from "net";
import { TcpProxy } from "../../local/tcpProxy";

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ port: number; stop: () => Promise<void> }> {
    const server = net.createServer((s) => {
        s.on("error", () => undefined);
        s.pipe(s);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return { port: (server.address() as net.AddressInfo).port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Everything the socket receives until `bytes` have arrived, or rejects on close/error first. */
function receive(socket: net.Socket, bytes: number, ms: number): Promise<string> {
    return new Promise((resolve, reject) => {
        let got = "";
        const timer = setTimeout(() => reject(new Error(`received ${JSON.stringify(got)} within ${ms} ms, expected ${bytes} bytes`)), ms);
        socket.on("data", (d: Buffer) => {
            got += d.toString("utf8");
            if (got.length >= bytes) {
                clearTimeout(timer);
                resolve(got);
            }
        });
        socket.once("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

/**
 * Runs `body` with a client of a proxy in front of an echo server: the proxy gets `pending` as its target, or the
 * echo server's port when none is given. Stops all three afterwards.
 */
async function echoThrough(pending: Promise<number> | undefined, body: (client: net.Socket, echoPort: number) => Promise<void>): Promise<void> {
    const echo = await echoServer();
    const proxy = await TcpProxy.start(pending ?? echo.port);
    const client = net.connect(proxy.port, "127.0.0.1");
    try {
        await body(client, echo.port);
    } finally {
        client.destroy();
        await proxy.stop();
        await echo.stop();
    }
}

describe("a TcpProxy whose upstream port is still coming (local/tcpProxy.ts)", () => {
    it("holds a connection made before the port is known, then carries its bytes both ways", async () => {
        let resolvePort!: (port: number) => void;
        await echoThrough(new Promise<number>((r) => (resolvePort = r)), async (client, echoPort) => {
            await new Promise((resolve) => client.once("connect", resolve));
            // Sent while the proxy has nowhere to send it yet.
            client.write("before");
            await new Promise((r) => setTimeout(r, 200));
            resolvePort(echoPort);
            client.write("-after");
            assert.equal(await receive(client, "before-after".length, 5000), "before-after");
        });
    });

    it("control: a connection through a proxy started with a known port echoes the same", async () => {
        await echoThrough(undefined, async (client) => {
            client.write("before-after");
            assert.equal(await receive(client, "before-after".length, 5000), "before-after");
        });
    });

    it("resets a waiting connection when the upstream fails to start", async () => {
        let rejectPort!: (e: Error) => void;
        const proxy = await TcpProxy.start(new Promise<number>((_, reject) => (rejectPort = reject)));
        const client = net.connect(proxy.port, "127.0.0.1");
        try {
            await new Promise((resolve) => client.once("connect", resolve));
            const ended = new Promise<string>((resolve) => {
                client.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
                client.once("close", () => resolve("closed"));
            });
            rejectPort(new Error("moto_server did not start"));
            assert.match(await ended, /ECONNRESET|closed/);
        } finally {
            client.destroy();
            await proxy.stop();
        }
    });
});
