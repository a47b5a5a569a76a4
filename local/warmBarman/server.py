# Why this exists: every archive_command and restore_command of a local server runs barman-cloud-wal-archive
# or barman-cloud-wal-restore, a fresh Python process that spends about half of its CPU importing barman and
# boto3 before it does anything (measured on the 2-core test machine: 0.9 CPU-s per 16 MiB segment cold,
# 0.45 forked from here). The drill's servers run hundreds of them. This server imports those tools once and
# forks per request; the fork runs the tool's own console-script entry point (the one
# /usr/bin/barman-cloud-wal-archive loads) with the caller's argv, environment, working directory, umask and
# stdin/stdout/stderr, and the caller ends as the tool ended: the same exit status, or the same signal
# (PostgreSQL treats an archive or restore command killed by a signal differently from one that failed).
# client.py starts this server on first use, one per owner tag (local/processes.ts), so killing a server's tag
# kills it and every run with it.
#
# Protocol, one SOCK_SEQPACKET connection per run: the request (JSON) with fds 0-2 (SCM_RIGHTS); the answer
# b"S" once the tool runs, then b"E"+status or b"K"+signal. End of file before b"S" means "not served": the
# caller runs the tool itself. Nothing here may change what the tool does; anything it cannot reproduce
# exactly (an environment the imports already read differently) is not served.
import errno
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

NAME = sys.argv[1]
HERE = os.path.dirname(os.path.realpath(__file__))
# Variables read while importing (interpreter, locale and stdio encoding, botocore's CRT switch, setuptools'
# distutils switch): a request that sets them differently from this server's start is not served.
IMPORT_TIME_PREFIXES = ("PYTHON", "LC_", "LANG", "BOTO_", "SETUPTOOLS_")
# struct ucred: pid_t, uid_t, gid_t (socket(7), SO_PEERCRED).
UCRED = struct.Struct("iII")


def import_time_env(env):
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES)}


def exit_status(value):
    """What sys.exit(value) makes the process's exit status (CPython's handling of SystemExit.code)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def run_tool(main, request, fds):
    """In the grandchild: become the tool's process (the caller's fds 0-2 and the rest) and run it; never returns."""
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in set(fds) - {0, 1, 2}:
            os.close(fd)
        os.umask(request["umask"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.argv = request["argv"]
        status = exit_status(main())
    except SystemExit as exit_:
        status = exit_status(exit_.code)
    except BaseException:  # as an uncaught exception ends the tool: traceback, status 1
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def serve(conn, listener, mains, startup_env):
    """In the forked child: check the request, run the tool in a process of its own, report how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener.close()
    message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    if len(fds) != 3 or request["tool"] not in mains or import_time_env(request["env"]) != startup_env:
        os._exit(0)  # end of file before b"S": the caller runs the tool itself
    tool = os.fork()
    if tool == 0:
        conn.close()
        run_tool(mains[request["tool"]], request, fds)
    # Only the tool holds the caller's stdio: nothing this process writes (its errors go to the server's log)
    # can reach the caller's output, and the caller's pipes close when the tool ends.
    for fd in fds:
        os.close(fd)
    # A pidfd names this tool process and no later one that reuses its pid after it is reaped.
    tool_fd = os.pidfd_open(tool)
    conn.send(b"S")

    # The caller sends nothing more: end of file means it is gone (its server stopped or was SIGKILLed), and
    # the tool must not outlive it, as a process in the caller's own group would not. It also comes once the
    # caller has its status and exits; the tool has ended then, which the pidfd reports as ESRCH.
    def watch_caller():
        conn.recv(1)
        try:
            signal.pidfd_send_signal(tool_fd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(137)

    threading.Thread(target=watch_caller, daemon=True).start()
    _pid, wait_status = os.waitpid(tool, 0)
    if os.WIFSIGNALED(wait_status):
        conn.send(b"K" + bytes([os.WTERMSIG(wait_status)]))
    else:
        conn.send(b"E" + bytes([os.WEXITSTATUS(wait_status)]))
    os._exit(0)


def reap(_signum, _frame):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def main():
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind("\0" + NAME)  # Linux's abstract namespace: no file to clean up after a SIGKILL
    except OSError as error:
        # Another server of the same owner won the race to start: the client connects to that one.
        return 0 if error.errno == errno.EADDRINUSE else 1
    listener.listen(64)
    startup_env = import_time_env(os.environ)
    # The tools served are the shortcuts next to this file (links to client.py, made by local/warmBarman.ts).
    import importlib.metadata

    client = os.path.join(HERE, "client.py")
    tools = [f for f in os.listdir(HERE) if f != "client.py" and os.path.realpath(os.path.join(HERE, f)) == client]
    entry_points = {ep.name: ep for ep in importlib.metadata.distribution("barman").entry_points if ep.group == "console_scripts"}
    mains = {tool: entry_points[tool].load() for tool in tools}
    # What a first request would import on its own: barman loads its cloud provider lazily.
    import barman.cloud_providers.aws_s3  # noqa: F401
    import boto3  # noqa: F401

    signal.signal(signal.SIGCHLD, reap)
    while True:
        conn, _ = listener.accept()
        # An abstract socket has no file permissions: serve only callers running as this server's user.
        _pid, uid, _gid = UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
        if uid == os.getuid() and os.fork() == 0:
            try:
                serve(conn, listener, mains, startup_env)
            except BaseException:  # a forked child never returns to this loop
                traceback.print_exc()
            finally:
                os._exit(1)
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
