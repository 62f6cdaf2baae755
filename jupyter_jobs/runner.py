"""``python -m jupyter_jobs.runner JOB_DIR``: runs a job's command wherever the job runs.

The runner is what makes a job independent of the Jupyter server: it starts the user's command in
its own session, sends stdout+stderr to ``output.log``, samples CPU and memory of the process tree
into ``usage.jsonl``, turns tqdm-style percentages in the log into ``progress.json``, enforces the
time and memory limits and the CPU set, and writes ``status.json`` atomically at start and end.
SIGTERM (a cancel, ``scancel``, a deleted pod) stops the whole process tree: SIGTERM, then SIGKILL
after the grace period; so does a cancel request (``cancel.json``) written by any server of the job
root, which reaches a job on a host the asking server cannot signal. The same code runs on the
server's machine and on a compute node.

Exactly once: the runner that runs the command first makes ``.started`` with ``O_EXCL``; a second
runner of the same job (started again by a server that took the job over) finds it and exits with
:data:`~jupyter_jobs.jobfiles.ALREADY_STARTED_EXIT` without touching anything. A job that SLURM
requeues runs again (``SLURM_RESTART_COUNT`` names the attempt).

Only the standard library is imported before the command starts (psutil comes after, while the
command starts up): the runner adds a few tens of ms to a job.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from .jobfiles import (
    ALREADY_STARTED_EXIT,
    CANCELLED,
    HEARTBEAT_INTERVAL,
    LOG,
    PROGRESS,
    RECORD,
    RESTART,
    SERVERS_DIR,
    SPEC,
    STARTED,
    STATUS,
    USAGE,
    cancel_requested,
    create_exclusive,
    host_id,
    read_json,
    write_json,
)
from .progress import ENV_JOB_DIR, ENV_JOB_ID
from .units import format_bytes, format_duration

if TYPE_CHECKING:
    import psutil

TICK = 0.25  # seconds between two looks at the limits and the log
CANCEL_CHECK = 0.5  # seconds between two looks for a cancel request (cancel.json)
#: the signals that stop a job; a server starts the runner with them blocked, and the runner
#: unblocks them once its handlers are in place, so a cancel sent at once is never lost
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: tqdm: "desc:  45%|████▌     | 45/100 [00:01<00:01, 40.00it/s]"
TQDM_RE = re.compile(
    rb"(?:([^\r\n|]{0,60}?):?\s*)?(\d{1,3})%\|[^|\r\n]*\|\s*(\d+(?:\.\d+)?[kMG]?/\d+(?:\.\d+)?[kMG]?)?"
)


SUBREAPER = False


def set_child_subreaper() -> None:
    """Make orphaned descendants of the job our children (Linux >= 3.4), so we can tell cheaply
    whether any outlived the command."""
    global SUBREAPER
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def now_iso(now: float | None = None) -> str:
    """UTC ``2026-12-02T08:01:59.303487Z`` of one clock reading: the seconds and the fraction
    come from the same instant (two readings put a time taken across a second boundary almost a
    second early, before things that happened before it)."""
    now = time.time() if now is None else now
    whole = int(now)
    micros = int((now - whole) * 1e6)  # truncated: below 1e6
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Runner:
    def __init__(self, job_dir: str):
        self.job_dir = os.path.abspath(job_dir)
        spec = read_json(os.path.join(self.job_dir, SPEC))
        if not isinstance(spec, dict):
            raise SystemExit(f"jupyter-jobs runner: no readable {SPEC} in {self.job_dir}")
        self.spec: dict[str, Any] = spec
        self.status: dict[str, Any] = dict(read_json(self.path(STATUS)) or {})
        self.proc: subprocess.Popen | None = None
        self.cancel_requested: int | None = None
        self.reason: str | None = None
        self.final_state: str | None = None
        self.log_offset = 0
        self.procs: dict[int, psutil.Process] = {}
        self.started = time.monotonic()
        self._next_lease_look = 0.0
        self._lease_seen: tuple[Any, Any] | None = None
        self._lease_moved = time.monotonic()

    def path(self, name: str) -> str:
        return os.path.join(self.job_dir, name)

    def write_status(self, **changes: Any) -> None:
        self.status.update(changes)
        write_json(self.path(STATUS), self.status)

    # ------------------------------------------------------------------ start

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.spec.get("clear_env"):
            env = {k: v for k, v in env.items() if k in ("PATH", "HOME", "USER", "LANG", "TZ")}
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update({str(k): str(v) for k, v in (self.spec.get("env") or {}).items()})
        env[ENV_JOB_DIR] = self.job_dir
        prepend = [str(p) for p in self.spec.get("pythonpath_prepend") or []]
        if prepend:
            # a pinned Python script runs from input/: its own folder comes next on sys.path
            env["PYTHONPATH"] = os.pathsep.join(
                [*prepend, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
            )
        env[ENV_JOB_ID] = str(self.spec.get("id", ""))
        return env

    def pick_cpus(self) -> set[int] | None:
        n = self.spec.get("cpus")
        if not n or not hasattr(os, "sched_getaffinity"):
            return None
        allowed = sorted(os.sched_getaffinity(0))
        if n >= len(allowed):
            return None
        # spread jobs over the CPUs: start at a place given by the job id
        start = int(str(self.spec.get("id", "0"))[:8] or "0", 16) % len(allowed)
        return {allowed[(start + i) % len(allowed)] for i in range(n)}

    def start_child(self) -> bool:
        argv = [str(a) for a in self.spec["argv"]]
        cwd = self.spec.get("cwd") or self.job_dir
        log_fd = os.open(self.path(LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        cpus = self.pick_cpus()

        def preexec() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                cwd=cwd,
                env=self.child_env(),
                start_new_session=True,
                close_fds=True,
                preexec_fn=preexec if cpus else None,
            )
        except OSError as e:
            code = 127 if isinstance(e, FileNotFoundError) else 126
            msg = f"cannot start {argv[0]!r}: {e.strerror or e}"
            os.write(log_fd, f"jupyter-jobs: {msg}\n".encode())
            os.close(log_fd)
            self.finish("failed", code, msg)
            return False
        os.close(log_fd)
        import psutil  # after the start: it loads while the command starts up

        try:
            self.procs[self.proc.pid] = psutil.Process(self.proc.pid)
        except psutil.Error:
            pass
        self.write_status(
            state="running",
            runner_pid=os.getpid(),
            runner_create_time=psutil.Process().create_time(),
            host=host_id(),
            heartbeat_at=time.time(),
            pid=self.proc.pid,
            pgid=self.proc.pid,
            started_at=now_iso(),
            cpus=sorted(cpus) if cpus else None,
        )
        return True

    # ------------------------------------------------------------------ watching

    def tree(self) -> list[psutil.Process]:
        """The child and all its descendants (cached Process objects keep cpu_percent state)."""
        import psutil

        assert self.proc is not None
        try:
            root = self.procs.get(self.proc.pid) or psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            found = []
        alive = {}
        for p in found:
            alive[p.pid] = self.procs.get(p.pid, p)
        self.procs = alive
        return list(alive.values())

    def sample(self) -> tuple[float, int]:
        import psutil

        cpu = 0.0
        rss = 0
        for p in self.tree():
            try:
                with p.oneshot():
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss
            except psutil.Error:
                continue
        return cpu, rss

    def scan_log(self) -> None:
        """Turn the last tqdm-style percentage written since the previous scan into progress."""
        try:
            size = os.stat(self.path(LOG)).st_size
        except OSError:
            return
        if size <= self.log_offset:
            return
        start = max(self.log_offset, size - 65536)
        with open(self.path(LOG), "rb") as f:
            f.seek(start)
            chunk = f.read(size - start)
        self.log_offset = size
        matches = list(TQDM_RE.finditer(chunk))
        if not matches:
            return
        current = read_json(self.path(PROGRESS))
        if isinstance(current, dict) and current.get("source") == "api":
            return  # the job reports its own progress: that wins
        last = matches[-1]
        desc = (last.group(1) or b"").decode("utf-8", "replace").strip(" :")
        count = (last.group(3) or b"").decode()
        message = " ".join(x for x in (desc, count) if x) or None
        fraction = min(100, int(last.group(2))) / 100
        write_json(
            self.path(PROGRESS),
            {"fraction": fraction, "message": message, "source": "log", "t": time.time()},
        )

    def kill_tree(self, grace: float) -> None:
        """SIGTERM to every process of the job, SIGKILL to those still there after ``grace``."""
        import psutil

        assert self.proc is not None
        victims = self.job_processes()
        for p in victims:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            victims = [p for p in victims if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            if self.proc.poll() is None:
                victims.append(self.procs.get(self.proc.pid) or psutil.Process(self.proc.pid))
            if not victims:
                break
            time.sleep(0.05)
        for p in self.job_processes():
            try:
                p.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def job_processes(self) -> list[psutil.Process]:
        """Every live process of this job: the tree, plus escapees that kept the job's environment."""
        import psutil

        found = {p.pid: p for p in self.tree()}
        job_id = str(self.spec.get("id", ""))
        if job_id:
            for pid in self.pids_with_env(f"{ENV_JOB_ID}={job_id}".encode()):
                if pid not in found:
                    try:
                        found[pid] = psutil.Process(pid)
                    except psutil.Error:
                        continue
        return [p for p in found.values() if p.pid != os.getpid()]

    @staticmethod
    def pids_with_env(needle: bytes) -> list[int]:
        """Pids whose environment holds ``needle`` (raw /proc reads: a few ms for hundreds)."""
        me = os.getpid()
        out: list[int] = []
        try:
            entries = os.listdir("/proc")
        except OSError:
            return out
        for entry in entries:
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if needle + b"\0" in env or env.endswith(needle):
                out.append(int(entry))
        return out

    # ------------------------------------------------------------------ end

    def finish(
        self,
        state: str,
        exit_code: int | None,
        reason: str | None,
        process_exit_code: int | None = None,
    ) -> None:
        """Record the end. A cancelled job has no exit code (``null``): what its process returned
        depends on the instant the signal came, so it is kept apart as ``process_exit_code``."""
        self.final_state = state
        self.status.setdefault("host", host_id())
        if state == CANCELLED:
            exit_code = None
        # what the job's processes used, all of them (reaped children and their descendants;
        # orphans too: the runner is their subreaper): read by jupyter_jobs.efficiency
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.write_status(
            state=state,
            exit_code=exit_code,
            process_exit_code=process_exit_code,
            reason=reason,
            finished_at=now_iso(),
            cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
            # of the largest process; KiB on Linux, bytes on macOS
            max_rss_bytes=usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024),
        )

    def has_notify(self) -> bool:
        """Whether the job's record asks for a notification (read only at the end)."""
        record = read_json(self.path(RECORD))
        return isinstance(record, dict) and bool(record.get("notify"))

    def claim(self) -> bool:
        """Be the one runner of this job (see the module docstring)."""
        attempt = os.environ.get("SLURM_RESTART_COUNT")
        name = STARTED if not attempt or attempt == "0" else f"{STARTED}-{attempt}"
        return create_exclusive(self.path(name), {"host": host_id(), "pid": os.getpid()})

    def may_have_leftovers(self) -> bool:
        """False when no process of the job is left: as a child subreaper the runner inherits
        every orphaned descendant, so no child at all means nothing escaped (no /proc scan)."""
        if not SUBREAPER:
            return True
        try:
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)  # reaps orphans that already exited
                if pid == 0:
                    return True  # a descendant still runs
        except ChildProcessError:
            return False

    def on_signal(self, signum: int, frame: Any) -> None:
        self.cancel_requested = signum

    def run(self) -> int:
        for s in STOP_SIGNALS:
            signal.signal(s, self.on_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a pending cancel lands now
        if not self.claim():
            print(
                f"jupyter-jobs runner: job {self.spec.get('id')} was started by another runner;"
                " nothing to do",
                file=sys.stderr,
            )
            return ALREADY_STARTED_EXIT
        if self.cancel_requested is not None or cancel_requested(self.job_dir):
            self.finish("cancelled", None, "cancelled before it started")
            return 0
        set_child_subreaper()
        if not self.start_child():
            return 0
        self.started = time.monotonic()
        generation = 0
        outcome: tuple[str, str | None] | None
        while True:
            code, outcome = self.supervise()
            self.stop_leftovers()
            if outcome is None and self.cancel_requested is None and self.take_restart():
                # a kernel's restart: the same command again in the same allocation, same ports
                generation += 1
                if not self.start_child():
                    return 0
                self.write_status(generation=generation, restarted_at=now_iso())
                continue
            break
        if outcome is None:
            outcome = self.cancel_that_beat_us(code)
        self.scan_log()
        exit_code = code if code >= 0 else 128 - code
        if outcome:
            state, reason = outcome
        elif code == 0:
            state, reason = "completed", None
        elif code < 0:
            state, reason = "failed", f"killed by {signal_name(-code)}"
        else:
            state, reason = "failed", f"exit code {code}"
        self.finish(state, exit_code, reason, process_exit_code=exit_code)
        if self.has_notify():
            from .notify import send_at_end  # no server may see this end (a culled server)

            send_at_end(self.job_dir)
        # on SLURM: a failed command fails the batch job, for the dependencies of other jobs
        return 1 if state == "failed" and self.spec.get("exit_nonzero_on_failure") else 0

    def cancel_that_beat_us(self, code: int) -> tuple[str, str | None] | None:
        """A cancel whose signal reached the command first: ``scancel`` (and ``kill`` of a process
        group) signals every process of the job at once, so the command may die of it before
        the runner's loop has looked. Its end is then the cancel's, not a failure."""
        if code < 0 and -code in STOP_SIGNALS and self.cancel_requested is None:
            deadline = time.monotonic() + 1.0  # our own copy of the signal is on its way
            while self.cancel_requested is None and time.monotonic() < deadline:
                if cancel_requested(self.job_dir):
                    self.cancel_requested = 0
                    break
                time.sleep(0.02)
        if self.cancel_requested is None:
            return None
        if self.cancel_requested == 0 or cancel_requested(self.job_dir):
            return ("cancelled", "cancelled")
        return ("cancelled", f"cancelled ({signal_name(self.cancel_requested)})")

    def supervise(self) -> tuple[int, tuple[str, str | None] | None]:
        """Watch the command until it ends (or is stopped): its exit code, and why it was stopped
        (None when it ended by itself)."""
        assert self.proc is not None
        time_limit = self.spec.get("time_limit")
        memory = self.spec.get("memory")
        grace = float(self.spec.get("cancel_grace", 5.0))
        usage_interval = float(self.spec.get("usage_interval", 1.0))
        now = time.monotonic()
        next_sample = now + min(0.5, usage_interval)
        next_check = now + CANCEL_CHECK
        next_heartbeat = now + HEARTBEAT_INTERVAL
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            pidfd = None
        usage = open(self.path(USAGE), "a", encoding="utf-8")
        outcome: tuple[str, str | None] | None = None
        try:
            while self.proc.poll() is None:
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + CANCEL_CHECK
                    if self.cancel_requested is None and cancel_requested(self.job_dir):
                        self.cancel_requested = 0  # asked through cancel.json, not a signal
                    if self.restart_mode() == "kill":
                        self.kill_tree(0)  # a forced restart: the loop in run() starts it again
                    gone = self.server_gone()
                    if gone and outcome is None:
                        outcome = ("cancelled", gone)
                if now >= next_heartbeat:
                    next_heartbeat = now + HEARTBEAT_INTERVAL
                    self.write_status(heartbeat_at=time.time())
                if outcome:
                    pass
                elif self.cancel_requested is not None:
                    # asked through jupyter-jobs (cancel.json, whichever arrives first of it and the
                    # signal): "cancelled"; a signal from elsewhere (scancel, kill) is named
                    if self.cancel_requested == 0 or cancel_requested(self.job_dir):
                        outcome = ("cancelled", "cancelled")
                    else:
                        outcome = ("cancelled", f"cancelled ({signal_name(self.cancel_requested)})")
                elif time_limit and now - self.started > time_limit:
                    outcome = ("failed", f"time limit exceeded ({format_duration(time_limit)})")
                elif now >= next_sample:
                    cpu, rss = self.sample()
                    usage.write(
                        json.dumps(
                            {"t": time.time(), "cpu_percent": round(cpu, 1), "rss_bytes": rss}
                        )
                        + "\n"
                    )
                    usage.flush()
                    next_sample = now + usage_interval
                    if memory and rss > memory:
                        outcome = (
                            "failed",
                            f"memory limit exceeded: used {format_bytes(rss)} of"
                            f" {format_bytes(memory)}",
                        )
                    self.scan_log()
                if outcome:
                    self.kill_tree(grace)
                    break
                wait = min(TICK, max(0.0, next_sample - time.monotonic()))
                if pidfd is not None:
                    try:
                        select.select([pidfd], [], [], wait)
                    except InterruptedError:
                        pass
                else:
                    time.sleep(min(wait, 0.05))
            return self.proc.wait(), outcome
        finally:
            usage.close()
            if pidfd is not None:
                os.close(pidfd)

    def stop_leftovers(self) -> None:
        """The main process is gone: so is the job (as SLURM does): no background child
        survives it."""
        import psutil

        if not self.may_have_leftovers():
            return
        # the job's processes by tree and environment, plus orphans we inherited as subreaper
        found = {p.pid: p for p in self.job_processes()}
        for p in psutil.Process().children(recursive=True):
            found.setdefault(p.pid, p)
        for p in found.values():
            try:
                if p.is_running():
                    p.kill()
            except psutil.Error:
                pass

    # ------------------------------------------------------------------ kernels

    def restart_mode(self) -> str | None:
        """``restart`` or ``kill`` while a restart of the command is asked for (kernel jobs)."""
        if not self.spec.get("restartable"):
            return None
        request = read_json(self.path(RESTART))
        return str(request.get("mode") or "restart") if isinstance(request, dict) else None

    def take_restart(self) -> bool:
        """Whether the command that just ended is to be started again (the request is used up)."""
        if self.restart_mode() is None:
            return False
        try:
            os.unlink(self.path(RESTART))
        except OSError:
            pass
        return True

    def server_gone(self) -> str | None:
        """For a kernel job: why to stop, when its server has been gone longer than
        ``server_grace`` seconds (no allocation burns unseen when no server comes back)."""
        grace = self.spec.get("server_grace")
        if not grace:
            return None
        now = time.monotonic()
        if now < self._next_lease_look:
            return None
        self._next_lease_look = now + min(10.0, float(grace) / 4)
        record = read_json(self.path(RECORD))
        owner = record.get("owner") if isinstance(record, dict) else None
        lease = read_json(os.path.join(os.path.dirname(self.job_dir), SERVERS_DIR, f"{owner}.json"))
        counter = (owner, lease.get("counter")) if isinstance(lease, dict) else None
        if counter is not None and counter != self._lease_seen:
            self._lease_seen, self._lease_moved = counter, now
            return None
        if now - self._lease_moved <= float(grace):
            return None
        return (
            f"its Jupyter server has been gone for more than {format_duration(float(grace))}:"
            " the kernel was stopped so that its allocation does not burn unseen"
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--array":
        child = array_task_dir(args[1])
        if child is None:
            return 2
        return Runner(child).run()
    if len(args) != 1:
        print("usage: python -m jupyter_jobs.runner JOB_DIR | --array SWEEP_DIR", file=sys.stderr)
        return 2
    return Runner(args[0]).run()


#: where an array task learns its index: SLURM's array task, a Kubernetes Indexed Job's pod
ARRAY_INDEX_VARIABLES = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")


def array_task_dir(sweep_dir: str) -> str | None:
    """The directory of the sweep's child this array task runs: ``children[i]`` of the sweep's
    ``sweep.json``, ``i`` from :data:`ARRAY_INDEX_VARIABLES` (None, with a message, when not)."""
    from .sweeps import SWEEP_FILE

    raw = next((os.environ[v] for v in ARRAY_INDEX_VARIABLES if os.environ.get(v)), None)
    if raw is None or not raw.isdigit():
        print(
            f"jupyter-jobs: no array task index ({', '.join(ARRAY_INDEX_VARIABLES)})",
            file=sys.stderr,
        )
        return None
    try:
        with open(os.path.join(sweep_dir, SWEEP_FILE), encoding="utf-8") as f:
            children = json.load(f)["children"]
        child_id = children[int(raw)]
        if not isinstance(child_id, str) or not re.fullmatch(r"[0-9a-f]{32}", child_id):
            raise ValueError(f"{child_id!r} is not a job id")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print(f"jupyter-jobs: array task {raw} of {sweep_dir}: {e}", file=sys.stderr)
        return None
    return os.path.join(os.path.dirname(os.path.abspath(sweep_dir)), str(child_id))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip the interpreter teardown: the server waits for this exit
