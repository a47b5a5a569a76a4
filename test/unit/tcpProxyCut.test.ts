// Cutting the proxy must close every socket, also one whose write side has just ended (pipe() ends it when its
// peer ends, Node ends it on EOF). libuv refuses to reset a TCP handle while its shutdown is in flight
// (uv_tcp_close_reset: UV_EINVAL), and Node's TCPWrap::Reset marks the handle closing anyway (src/tcp_wrap.cc),
// so it is never closed: its fd stays open, and at exit Node spins in Environment::CleanupHandles waiting for it
// (the drill suite's hang after "18 passing", tools/testAll.ts). local/tcpProxy.ts closes such a socket instead.

import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as net from "net";
import { cutSocket } from "../../local/tcpProxy";
import { testTimeout } from "../support/timeouts";

/** Resolves when the socket emits 'close'; rejects, saying what it saw, if it has not within `ms`. */
function closedWithin(socket: net.Socket, ms: number, seen: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'close' within ${ms} ms: the socket's handle was never closed (errors: ${seen() || "none"})`)), ms);
        socket.once("close", () => {
            clearTimeout(timer);
            resolve();
        });
    });
}

/** A connected client socket to a throwaway server; `stop` closes the server. */
async function connectedPair(): Promise<{ client: net.Socket; stop: () => Promise<void> }> {
    const server = net.createServer((s) => {
        s.on("error", () => undefined);
        s.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    await new Promise((resolve) => client.once("connect", resolve));
    return { client, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("cutting a proxied socket (local/tcpProxy.ts cutSocket)", () => {
    it("closes a socket whose shutdown is in flight: no error, and its handle is gone", async () => {
        const { client, stop } = await connectedPair();
        const errors: string[] = [];
        client.on("error", (e: NodeJS.ErrnoException) => errors.push(`${e.syscall} ${e.code}`));
        const closed = closedWithin(client, testTimeout(5000), () => errors.join(", "));
        client.end();
        cutSocket(client);
        await closed;
        await stop();
        assert.deepEqual(errors, []);
        assert.equal(client.destroyed, true);
    });

    it("resets a socket that is still open both ways (what a client sees when an endpoint drops it)", async () => {
        const { client, stop } = await connectedPair();
        const closed = closedWithin(client, testTimeout(5000), () => "");
        cutSocket(client);
        await closed;
        await stop();
        assert.equal(client.destroyed, true);
    });

    it("the control: Node's resetAndDestroy() on such a socket fails with EINVAL and leaves its handle open", () => {
        // In a child process, which exits explicitly: the leaked handle would otherwise keep it spinning.
        const script = `
            const net = require("net");
            const server = net.createServer((s) => { s.on("error", () => {}); s.resume(); });
            server.listen(0, "127.0.0.1", () => {
                const c = net.connect(server.address().port, "127.0.0.1", () => {
                    c.on("error", (e) => console.log("error " + e.syscall + " " + e.code));
                    c.end();
                    c.resetAndDestroy();
                    setTimeout(() => {
                        server.close();
                        console.log("left " + process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length);
                        process.exit(0);
                    }, 300);
                });
            });`;
        const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30000, killSignal: "SIGKILL" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /error reset EINVAL/);
        assert.match(r.stdout, /left 1/);
    });
});
