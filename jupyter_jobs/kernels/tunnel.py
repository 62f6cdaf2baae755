"""SSH tunnels from the Jupyter server to a kernel on a compute node (optional).

When compute nodes cannot be reached directly from the server, the provisioner forwards the
kernel's five ports through a gateway (a login node) with one ``ssh -N -L …`` process: local
``127.0.0.1:<free port>`` → ``<node>:<kernel port>`` as seen from the gateway. The argv is built
here, purely (unit-tested); no shell is involved.
"""

from __future__ import annotations

import asyncio
import re
import socket

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

#: a gateway: ``host``, ``user@host`` or ``user@host:port`` (no spaces, no leading dash)
_GATEWAY_RE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(?::\d{1,5})?$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.:-]+$")


def free_local_ports(n: int, ip: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports free on ``ip`` right now (bound to 0, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((ip, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tunnel_argv(
    gateway: str,
    forwards: list[tuple[int, str, int]],
    *,
    ssh: str = "ssh",
    options: list[str] | None = None,
) -> list[str]:
    """``ssh -N`` argv forwarding each ``(local_port, remote_host, remote_port)``.

    ``gateway`` is ``[user@]host[:port]``. Refuses values that ssh could read as options.
    """
    if not _GATEWAY_RE.match(gateway):
        raise ValueError(f"not an ssh gateway ([user@]host[:port]): {gateway!r}")
    argv = [ssh, "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"]
    argv += list(options or [])
    host, _, port = gateway.partition(":")
    if port:
        argv += ["-p", port]
    for local, remote_host, remote_port in forwards:
        if not _HOST_RE.match(remote_host):
            raise ValueError(f"not a host name or address: {remote_host!r}")
        if not (0 < int(local) < 65536 and 0 < int(remote_port) < 65536):
            raise ValueError(f"bad port in forward {local}:{remote_host}:{remote_port}")
        argv += ["-L", f"127.0.0.1:{int(local)}:{remote_host}:{int(remote_port)}"]
    argv += ["--", host]
    return argv


def plan_forwards(
    info: dict, remote_host: str, local_ports: list[int]
) -> tuple[list[tuple[int, str, int]], dict]:
    """Forwards for a kernel's connection info, and the info the server should connect to."""
    forwards = []
    local_info = dict(info)
    local_info["ip"] = "127.0.0.1"
    for name, local in zip(PORT_NAMES, local_ports):
        forwards.append((local, remote_host, int(info[name])))
        local_info[name] = local
    return forwards, local_info


async def start_tunnel(argv: list[str], ports: list[int], timeout: float = 15.0):
    """Start the ssh process and wait until every local port accepts connections."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = list(ports)
    while pending:
        if proc.returncode is not None:
            err = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"the ssh tunnel exited ({proc.returncode}): {err.strip()}")
        port = pending[0]
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            pending.pop(0)
            continue
        except OSError:
            pass
        if loop.time() > deadline:
            proc.kill()
            raise RuntimeError(f"the ssh tunnel did not open port {port} within {timeout:g} s")
        await asyncio.sleep(0.1)
    return proc
