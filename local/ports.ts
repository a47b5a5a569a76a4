// Free TCP ports on the loopback interface, for servers the tests and the drill start.

import * as fs from "fs";
import * as net from "net";

export const LOOPBACK = "127.0.0.1";

/**
 * A port that was free a moment ago (the kernel picks it). Another process can still take it
 * before the caller binds it; callers that start servers retry on "address in use".
 */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, LOOPBACK, () => {
            const address = server.address();
            server.close(() => {
                if (address !== null && typeof address === "object") {
                    resolve(address.port);
                } else {
                    reject(new Error("could not determine a free port"));
                }
            });
        });
    });
}

/** True if something accepts TCP connections on the port. */
export function isListening(port: number, host = LOOPBACK): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ port, host });
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

/** /proc/net/tcp's "local_address" for an IPv4 address and port: the address's bytes as the kernel stores them, then the port, in hex. */
function procNetAddress(host: string, port: number): string {
    const bytes = host.split(".").map(Number);
    const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0");
    return `${bytes.reverse().map((b) => hex(b, 2)).join("")}:${hex(port, 4)}`;
}

/**
 * The inodes of the TCP sockets listening on host:port (IPv4), read from /proc/net/tcp (Linux, proc(5): state
 * 0A is TCP_LISTEN). A process holds such a socket when one of its /proc/<pid>/fd links reads `socket:[inode]`.
 */
export function listeningSocketInodes(port: number, host = LOOPBACK): Set<string> {
    const wanted = procNetAddress(host, port);
    const inodes = new Set<string>();
    for (const line of fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
        const f = line.trim().split(/\s+/);
        if (f[1] === wanted && f[3] === "0A") inodes.add(f[9]);
    }
    return inodes;
}
