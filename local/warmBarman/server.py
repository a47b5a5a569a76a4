# Why this exists: every archive_command and restore_command of a local server runs barman-cloud-wal-archive
# or barman-cloud-wal-restore, a fresh Python process that spends about half of its CPU importing barman and
# boto3 before it does anything (measured on the 2-core test machine: 0.9 CPU-s per 16 MiB segment cold,
# 0.45 forked from here). The drill's servers run hundreds of them. This server imports those tools once and
# forks one child per request; the child runs the tool's own console-script entry point (the one
# /usr/bin/barman-cloud-wal-archive loads) with the caller's argv, environment, working directory and
# stdin/stdout/stderr, and hands its exit status back. What the tool does is unchanged: only the interpreter
# start and the imports are shared. client.py starts this server on first use, one per owner tag
# (local/processes.ts), so killing a server's tag kills it and every child with it.
import importlib.metadata
import json
import os
import signal
import socket
import struct
import sys
import threading

NAME = sys.argv[1]
HERE = os.path.dirname(os.path.realpath(__file__))
# The tools served are the shortcuts next to this file (links to client.py, made by local/warmBarman.ts).
CLIENT = os.path.join(HERE, "client.py")
TOOLS = [f for f in os.listdir(HERE) if f != "client.py" and os.path.realpath(os.path.join(HERE, f)) == CLIENT]

_entry_points = {ep.name: ep for ep in importlib.metadata.distribution("barman").entry_points if ep.group == "console_scripts"}
MAINS = {tool: _entry_points[tool].load() for tool in TOOLS}
# What a first request would import on its own: barman loads its cloud provider lazily.
import barman.cloud_providers.aws_s3  # noqa: E402,F401
import boto3  # noqa: E402,F401


def reap(_signum, _frame):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def serve(conn, listener):
    """In the forked child: run one request and exit with its status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener.close()
    message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    if len(fds) != 3:
        os._exit(2)
    request = json.loads(message)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # The caller sends nothing more: end of file means it is gone (its server stopped or was SIGKILLed),
    # and the tool must not outlive it, as a process in the caller's own group would not.
    threading.Thread(target=lambda: (conn.recv(1), os._exit(137)), daemon=True).start()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = request["argv"]
    code = 1
    try:
        result = MAINS[request["tool"]]()
        code = result if isinstance(result, int) else 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    conn.send(bytes([code & 0xFF]))
    os._exit(code & 0xFF)


def main():
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind("\0" + NAME)  # Linux's abstract namespace: no file to clean up after a SIGKILL
    except OSError:
        return 0  # another server of the same owner won the race to start: the client connects to it
    listener.listen(64)
    signal.signal(signal.SIGCHLD, reap)
    while True:
        conn, _ = listener.accept()
        # An abstract socket has no file permissions: serve only callers running as this server's user.
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if uid != os.getuid():
            conn.close()
            continue
        if os.fork() == 0:
            serve(conn, listener)
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
