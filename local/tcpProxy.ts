// A TCP proxy in front of a local server (moto) that a test can cut and restore, to simulate
// an outage of the S3 endpoint without losing the emulator's in-memory state. While cut, open
// connections are reset and new ones are accepted and reset at once (what a client sees when
// an endpoint drops it), so clients fail fast and retry. The upstream's port may still be coming (a server that
// is starting): connections made before it is known wait for it, as a client waits on a slow endpoint.

import * as net from "net";
import { freePort, LOOPBACK } from "./ports";

export class TcpProxy {
    private readonly sockets = new Set<net.Socket>();
    private cutOff = false;
    /** Connections accepted (and reset) while cut: evidence clients kept trying. */
    refusedWhileCut = 0;

    private constructor(
        private readonly server: net.Server,
        readonly port: number,
        private readonly target: Promise<number>,
        readonly targetHost: string,
    ) {}

    get endpoint(): string {
        return `http://${LOOPBACK}:${this.port}`;
    }

    get isCut(): boolean {
        return this.cutOff;
    }

    /**
     * Listens on a free loopback port in front of `target`: a port, or the promise of one (drill/topology.ts starts
     * moto_server and PostgreSQL side by side, and PostgreSQL's archive_command names this proxy). A connection
     * made before the promise settles waits for it; if it rejects, such connections are reset.
     */
    static async start(target: number | Promise<number>, targetHost = LOOPBACK): Promise<TcpProxy> {
        const port = await freePort();
        const server = net.createServer();
        const proxy = new TcpProxy(server, port, Promise.resolve(target), targetHost);
        server.on("connection", (client) => proxy.accept(client));
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, LOOPBACK, () => resolve());
        });
        return proxy;
    }

    private track(socket: net.Socket): void {
        this.sockets.add(socket);
        socket.once("close", () => this.sockets.delete(socket));
    }

    private accept(client: net.Socket): void {
        if (this.cutOff) {
            this.refusedWhileCut++;
            cutSocket(client);
            return;
        }
        this.track(client);
        // Held until the upstream's port is known (at once when it was given as a number).
        client.pause();
        client.on("error", () => client.destroy());
        this.target.then(
            (port) => {
                // Cut (and so reset) while it waited: nothing to connect.
                if (!client.destroyed) this.connect(client, port);
            },
            () => {
                if (!client.destroyed) cutSocket(client);
            },
        );
    }

    private connect(client: net.Socket, port: number): void {
        const upstream = net.connect({ port, host: this.targetHost });
        this.track(upstream);
        client.on("error", () => upstream.destroy());
        upstream.on("error", () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
    }

    /** Starts the outage: resets every open connection and every new one. */
    cut(): void {
        this.cutOff = true;
        for (const socket of this.sockets) {
            cutSocket(socket);
        }
        this.sockets.clear();
    }

    /** Ends the outage. */
    restore(): void {
        this.cutOff = false;
    }

    async stop(): Promise<void> {
        this.cut();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}

/**
 * Drops one proxied connection: a reset (RST), as an endpoint that vanishes does, unless the socket's write side
 * has already ended (end() called: by pipe() when its peer ended, or by Node on EOF). Then its shutdown may be in
 * flight, and libuv refuses to reset a handle that is shutting down (uv_tcp_close_reset returns UV_EINVAL), while
 * Node's TCPWrap::Reset marks the handle closing all the same (src/tcp_wrap.cc): the handle is never closed, its
 * fd stays open, and at exit Node spins in Environment::CleanupHandles waiting for it (tools/testAll.ts: the drill
 * suite's hang after "18 passing"). Such a socket has already sent its FIN, so it is closed instead.
 */
export function cutSocket(socket: net.Socket): void {
    if (socket.writableEnded) socket.destroy();
    else socket.resetAndDestroy();
}
