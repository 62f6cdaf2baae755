"""SlurmSpawner: launcher jobs (and remote kernels) on a SLURM cluster.

A job becomes a batch script (``slurm_script``: a Jinja2 template an admin can replace, with
batchspawner's ``req_*`` vocabulary) that ``exec``s ``python -m jupyter_jobs.runner JOB_DIR`` on the
compute node, so ``output.log``, ``status.json``, ``usage.jsonl`` and ``progress.json`` land in the
job directory on the shared filesystem exactly as for a local job. SLURM's own messages go to
``JOB_DIR/slurm.out``.

Every command is an argv (``asyncio.create_subprocess_exec``), optionally behind ``exec_prefix``
(``["ssh", "login01"]``) for a server that runs off-cluster. Status costs one ``squeue`` call per
poll for all active jobs of the user (finished jobs stay listed for SLURM's ``MinJobAge``); only
jobs that left ``squeue`` are looked up, in one ``sacct`` call when accounting runs, else through
the runner's ``status.json`` and ``scontrol show job``. The manager adds jitter and backoff between
polls; a controller that does not answer raises EngineUnavailable, which keeps every job as it is.

The server acts as the user who runs it: ``squeue``/``sacct`` ask only for that user's jobs, and
``scancel`` is given ``--user`` so a job id of someone else is never cancelled.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import shutil
import signal as _signal
import time
from typing import Any

from traitlets import Bool, Enum, Float, Integer, List, Unicode, default

from .. import jobfiles, sweeps
from ..exceptions import BadRequest, EngineError, EngineUnavailable, NotInstalled
from ..models import (
    CANCELLING,
    FAILED,
    LOST,
    QUEUED,
    RESOURCE_KEYS,
    RUNNING,
    Job,
    JobUpdate,
    normalize_resources,
    parse_time,
)
from . import slurm_limits, slurm_state
from . import slurm_schedule as schedule
from . import slurm_script as script
from .base import Spawner

#: stderr of SLURM commands that means "the controller is not there" (not the user's fault)
UNREACHABLE_MARKS = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Connection refused",
    "Transport endpoint is not connected",
    "Zero Bytes were transmitted or received",
    "Communication connection failure",
    "slurm_load_jobs error: Slurm backup controller in standby mode",
)
#: a request the cached limits refuse is checked again on a reading at most this old (seconds)
LIMITS_RECHECK_AGE = 5.0
#: signals the runner handles (it stops the whole job on each); anything else would kill it
FORWARDED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


#: SLURM's queue reasons of a job held by its ``--dependency``
DEPENDENCY_NEVER = "DependencyNeverSatisfied"


def _dependency_reason(job: Job, rec: slurm_state.SlurmRecord, update: JobUpdate) -> None:
    """A job SLURM holds for the jobs it waits for: our reason (``waiting for <name> (<id>)``)
    for SLURM's ``Dependency``; ``DependencyNeverSatisfied`` in words."""
    if not job.after or update.status != QUEUED:
        return
    if rec.reason == "Dependency" and job.state.get("waiting_for"):
        update.reason = job.state["waiting_for"]
    elif rec.reason == DEPENDENCY_NEVER:
        update.reason = (
            f"will not start: a job it waits for did not end as it asks ({DEPENDENCY_NEVER})"
        )


def _unreachable(text: str) -> bool:
    return any(mark.lower() in text.lower() for mark in UNREACHABLE_MARKS)


def _already_gone(err: str) -> bool:
    """scancel's words for a job that no longer runs."""
    text = err.lower()
    return "invalid job id" in text or "already completing or completed" in text


#: what ``scontrol ping`` (or any SLURM command) says when this host cannot use SLURM, in the
#: user's words; the raw output goes along as the detail
UNAVAILABLE_REASONS = (
    ("could not establish a configuration source", "no SLURM configuration found on this host"),
    ("unable to establish controller machine", "no SLURM configuration found on this host"),
    ("unable to process configuration file", "SLURM's configuration on this host cannot be read"),
    ("slurm.conf", "SLURM's configuration on this host cannot be read"),
    ("is down", "SLURM's controller does not answer"),
    ("invalid authentication credential", "SLURM refused this host's credentials (munge)"),
    ("munge", "SLURM's authentication (munge) does not work on this host"),
)


def unavailable_reason(raw: str) -> str:
    """A short reason in the user's words for SLURM's output ``raw`` of a failed check."""
    text = raw.lower()
    for mark, reason in UNAVAILABLE_REASONS:
        if mark in text:
            return reason
    if _unreachable(raw):
        return "SLURM's controller does not answer"
    return "SLURM does not answer as expected on this host"


def _last_line(text: str) -> str:
    """The last line that says something (``scontrol ping`` ends its answer with a row of
    asterisks under "Slurmctld(primary) at vm is DOWN")."""
    lines = [ln.strip() for ln in text.strip().splitlines() if any(c.isalnum() for c in ln)]
    return lines[-1] if lines else ""


class SlurmSpawner(Spawner):
    """Runs jobs through ``sbatch`` on a SLURM cluster that shares the job directory."""

    name = "slurm"
    #: every word of the shared vocabulary but the container image
    supported_resources = tuple(k for k in RESOURCE_KEYS if k != "image")
    supports_kernels = True
    uses_runner = True
    #: sbatch's default: one task with one CPU
    default_cpus = 1

    exec_prefix = List(
        Unicode(),
        help="""Argv put before every SLURM command, for a server that runs off-cluster, e.g.
        ``c.SlurmSpawner.exec_prefix = ["ssh", "-o", "BatchMode=yes", "login01"]``. Empty
        (default): run ``sbatch``, ``squeue``… here. The job directory must be on a filesystem the
        cluster shares.""",
    ).tag(config=True)

    exec_prefix_shell = Bool(
        True,
        help="""Whether ``exec_prefix`` hands the command to a shell (``ssh`` does): the arguments
        are then quoted with ``shlex.quote``. Set False for a prefix that takes an argv as is
        (``["sudo", "-u", "x"]``). No effect without ``exec_prefix``.""",
    ).tag(config=True)

    batch_script = Unicode(
        help="""Jinja2 template of the batch script. Variables (batchspawner's names):
        ``job_name``, ``job_dir``, ``output``, ``req_nprocs``, ``req_memory`` (e.g. ``4096M``),
        ``req_runtime`` (``D-HH:MM:SS``), ``req_ngpus``, ``req_gpu_option`` (``--gpus=1`` or
        ``--gres=gpu:1``), ``req_partition``, ``req_account``, ``req_qos``, ``req_options`` (list
        of ``--opt=value``), ``req_prologue``, ``req_epilogue``, ``req_username`` and ``cmd`` (the
        runner, shell-quoted: keep ``exec {{cmd}}``). Default: ``jupyter_jobs/templates/slurm.sh``.
        Example: ``c.SlurmSpawner.batch_script = open('/etc/jupyter/slurm.sh').read()``.""",
    ).tag(config=True)

    @default("batch_script")
    def _default_batch_script(self) -> str:
        return script.default_template()

    req_partition = Unicode(
        "", help="Partition when the profile and the user name none; empty: the cluster's default."
    ).tag(config=True)
    req_account = Unicode("", help="Account when none is asked for; empty: none.").tag(config=True)
    req_qos = Unicode("", help="QOS when none is asked for; empty: the default.").tag(config=True)
    req_options = List(
        Unicode(),
        help="""sbatch options added to every job, e.g. ``["--exclusive", "--constraint=ib"]``
        (one option a string, no spaces).""",
    ).tag(config=True)
    req_prologue = Unicode(
        "", help="Shell lines run before the job (``module load …``), admin-written."
    ).tag(config=True)
    req_epilogue = Unicode(
        "", help="Shell lines run after the job; empty (default) ``exec``s the runner."
    ).tag(config=True)

    gpu_request = Enum(
        ["gpus", "gres"],
        "gpus",
        help="""How ``gpus`` is asked for: ``gpus`` → ``--gpus=N`` (SLURM ≥ 19.05 with
        select/cons_tres), ``gres`` → ``--gres=<gres_name>:N``.""",
    ).tag(config=True)
    gres_name = Unicode(
        "gpu", help="GRES name for ``gpu_request = 'gres'``, e.g. ``gpu:a100``."
    ).tag(config=True)

    user_sbatch_options = List(
        Unicode(),
        ["constraint", "reservation", "exclude", "nodelist", "comment", "licenses", "exclusive"],
        help="""sbatch options (long names, no dashes) a user may set through
        ``resources.extra``. Profiles (admin-written) may set any option but those jupyter-jobs
        sets itself.""",
    ).tag(config=True)

    job_name_prefix = Unicode(
        "jupyter-", help="Prefix of SLURM job names (the rest is the job's name, sanitised)."
    ).tag(config=True)

    slurm_user = Unicode(
        help="""User whose jobs are listed (``squeue -u``) and cancelled (``scancel --user``);
        default: the user running the server."""
    ).tag(config=True)

    @default("slurm_user")
    def _default_user(self) -> str:
        return pwd.getpwuid(os.getuid()).pw_name

    accounting = Enum(
        ["auto", "sacct", "jobcomp", "none"],
        "auto",
        help="""Where final states of jobs that left ``squeue`` come from: ``sacct`` (slurmdbd),
        ``jobcomp`` (``sacct -c``, JobCompType=jobcomp/filetxt), ``none`` (the runner's
        status.json and ``scontrol show job`` only), ``auto``: read from ``scontrol show
        config`` at start.""",
    ).tag(config=True)

    command_timeout = Float(
        30.0, help="Seconds a SLURM command may take before the controller counts as unreachable."
    ).tag(config=True)

    limits_ttl = Float(
        300.0,
        help="""Seconds the cluster's limits (partitions and node sizes, from one ``scontrol
        show partition`` and ``scontrol show node``) are kept before they are read again, when
        next needed. Requests above them are refused at once; 0: read them for every request.""",
    ).tag(config=True)

    lost_after = Integer(
        5,
        help="""Polls in a row that a job must be unknown to SLURM, with no final status from
        the runner, before it is marked ``lost``.""",
    ).tag(config=True)

    @default("poll_interval")
    def _default_poll_interval(self) -> float:
        return 2.0

    @default("display_name")
    def _default_display_name(self) -> str:
        return "SLURM"

    #: SLURM holds a job that waits for SLURM jobs (``--dependency``): see
    #: :mod:`jupyter_jobs.dependencies`
    engine_dependencies = True

    def runner_spec(self, job: Job) -> dict[str, Any]:
        # the runner exits non-zero when the command failed, so that SLURM marks the job FAILED
        # and ``afterok``/``afternotok`` of the jobs that wait for it mean what they say
        return {"exit_nonzero_on_failure": True}

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._accounting_mode: str | None = None
        self._misses: dict[str, int] = {}
        self._available: tuple[float, tuple[bool, str | None, str | None]] | None = None
        self._squeue_cache: tuple[float, dict[str, slurm_state.SlurmRecord]] | None = None
        self._limits: tuple[float, slurm_limits.ClusterLimits] | None = None
        self._limits_lock = asyncio.Lock()
        #: number of SLURM commands run, by command name (read by the benchmark and tests)
        self.calls: dict[str, int] = {}

    # ------------------------------------------------------------------ running commands

    def command(self, argv: list[str]) -> list[str]:
        """The full argv of a SLURM command, behind ``exec_prefix`` when set."""
        if not self.exec_prefix:
            return list(argv)
        if self.exec_prefix_shell:
            return [*self.exec_prefix, *(shlex.quote(a) for a in argv)]
        return [*self.exec_prefix, *argv]

    async def run(self, argv: list[str], cwd: str | None = None) -> tuple[int, str, str]:
        """Run a SLURM command: (exit code, stdout, stderr). EngineUnavailable when it hangs."""
        self.calls[argv[0]] = self.calls.get(argv[0], 0) + 1
        full = self.command(argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
            )
        except FileNotFoundError:
            raise NotInstalled(f"{full[0]} not found on PATH") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.command_timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise EngineUnavailable(
                f"slurmctld not answering: {argv[0]} took more than {self.command_timeout:g} s"
            )
        assert proc.returncode is not None
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    async def run_checked(self, argv: list[str]) -> str:
        """Run a query; EngineUnavailable when the controller does not answer, else EngineError."""
        rc, out, err = await self.run(argv)
        if rc != 0:
            message = _last_line(err) or _last_line(out) or f"exit code {rc}"
            if _unreachable(err + out):
                raise EngineUnavailable(f"slurmctld not answering: {message}")
            raise EngineError(f"{argv[0]} failed: {message}")
        return out

    # ------------------------------------------------------------------ lifecycle

    async def accounting_mode(self) -> str:
        """``sacct``, ``jobcomp`` or ``none``; ``auto`` is read once from the controller's config,
        when first needed (not at start: a controller that is down would delay the server)."""
        if self.accounting != "auto":
            return self.accounting
        if self._accounting_mode is None:
            out = await self.run_checked(["scontrol", "show", "config"])
            conf = dict(
                (k.strip(), v.strip())
                for k, _, v in (ln.partition("=") for ln in out.splitlines())
                if k.strip()
            )
            if conf.get("AccountingStorageType", "accounting_storage/none") not in (
                "accounting_storage/none",
                "(null)",
                "",
            ):
                self._accounting_mode = "sacct"
            elif conf.get("JobCompType") == "jobcomp/filetxt":
                self._accounting_mode = "jobcomp"
            else:
                self._accounting_mode = "none"
        return self._accounting_mode

    async def check_available(self) -> tuple[bool, str | None]:
        ok, reason, _detail = await self.availability()
        return ok, reason

    async def availability(self) -> tuple[bool, str | None, str | None]:
        """Whether ``scontrol ping`` finds the controller UP: a short reason in the user's words
        and SLURM's own output as the detail (cached for 5 s)."""
        now = time.monotonic()
        if self._available and now - self._available[0] < 5.0:
            return self._available[1]
        if not self.exec_prefix and shutil.which("sbatch") is None:
            answer: tuple[bool, str | None, str | None] = (
                False,
                "SLURM is not installed on this host",
                "sbatch not found on PATH",
            )
        else:
            try:
                rc, out, err = await self.run(["scontrol", "ping"])
            except NotInstalled as e:  # scontrol, or exec_prefix's program (ssh), is missing
                tool = self.command(["scontrol"])[0]
                answer = (False, f"{tool} is not installed on this host", e.message)
            except EngineUnavailable as e:
                answer = (False, "SLURM's controller does not answer", e.message)
            else:
                if rc == 0 and " is UP" in out:
                    answer = (True, None, None)
                else:
                    raw = (err.strip() + "\n" + out.strip()).strip() or f"exit code {rc}"
                    answer = (False, unavailable_reason(raw), raw)
        self._available = (now, answer)
        return answer

    # ------------------------------------------------------------------ profiles and resources

    def default_profiles(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "default",
                "display_name": "Cluster defaults",
                "description": "The cluster's default partition, CPUs, memory and time limit.",
                "resources": {},
                "kernels": True,
            }
        ]

    def validate_resources(self, profile: dict[str, Any], overrides: Any) -> dict[str, Any]:
        requested = normalize_resources(overrides)
        for key in requested.get("extra") or {}:
            if key not in self.user_sbatch_options:
                allowed = ", ".join(self.user_sbatch_options) or "none"
                raise BadRequest(
                    f"Extra options: --{key} is not an sbatch option users may set here"
                    f" (allowed: {allowed})",
                    field=f"resources.extra.{key}",
                )
        merged = super().validate_resources(profile, overrides)
        if "extra" in requested:
            base = normalize_resources(profile.get("resources") or {}).get("extra") or {}
            merged["extra"] = {**base, **requested["extra"]}
        self.script_for(merged, name="check", job_dir="/check", cmd=["true"])
        return merged

    # ------------------------------------------------------------------ what the cluster can give

    async def cluster_limits(
        self, max_age: float | None = None
    ) -> slurm_limits.ClusterLimits | None:
        """The cluster's partitions and node sizes: one reading, kept ``limits_ttl`` seconds (or
        ``max_age``) and read again lazily when next needed. None when SLURM cannot be asked (the
        request then goes to sbatch, which has the last word)."""
        ttl = self.limits_ttl if max_age is None else min(max_age, self.limits_ttl)
        cached = self._limits
        if cached and time.monotonic() - cached[0] < ttl:
            return cached[1]
        async with self._limits_lock:
            cached = self._limits
            if cached and time.monotonic() - cached[0] < ttl:
                return cached[1]
            try:
                partitions = await self.run_checked(["scontrol", "show", "partition", "-o"])
                nodes = await self.run_checked(["scontrol", "show", "node", "-o"])
            except EngineError as e:  # EngineUnavailable too: keep what was known, if anything
                self.log.info("jupyter-jobs: cannot read the SLURM limits: %s", e.message)
                return cached[1] if cached else None
            gres = self.gres_name if self.gpu_request == "gres" else "gpu"
            limits = slurm_limits.cluster_limits(partitions, nodes, gres)
            self._limits = (time.monotonic(), limits)
            return limits

    async def limits(self) -> dict[str, dict[str, Any]] | None:
        found = await self.cluster_limits()
        return found.to_dict() if found else None

    def resource_defaults(self, resources: dict[str, Any]) -> dict[str, Any]:
        """One CPU, and the partition's DefaultTime (else its MaxTime) from the cached limits."""
        out = super().resource_defaults(resources)
        cached = self._limits
        part = cached[1].partition_of(resources, self.req_partition) if cached else None
        limit = part and (part.default_time_seconds or part.max_time_seconds)
        if limit:
            out["time_limit"] = limit
        return out

    async def check_request(self, resources: dict[str, Any]) -> None:
        """Refuse what no node of the partition can ever give (it would wait forever as
        PartitionConfig), saying the largest possible."""
        found = await self.cluster_limits()
        if found is None:
            return
        try:
            found.check(resources, default_partition=self.req_partition)
        except BadRequest:
            # before refusing, make sure the cluster did not change since the reading (a new
            # partition, a larger node): read again unless the reading is a few seconds old
            fresh = await self.cluster_limits(max_age=LIMITS_RECHECK_AGE)
            if fresh is None or fresh is found:
                raise
            fresh.check(resources, default_partition=self.req_partition)

    # ------------------------------------------------------------------ submit

    def script_for(
        self, resources: dict[str, Any], *, name: str, job_dir: str, cmd: list[str]
    ) -> str:
        """The batch script for these (normalised) resources: pure, no cluster needed."""
        variables = script.template_vars(
            resources,
            job_name=script.sanitize_job_name(name, self.job_name_prefix),
            job_dir=job_dir,
            cmd=cmd,
            username=self.slurm_user,
            defaults={
                "partition": self.req_partition,
                "account": self.req_account,
                "qos": self.req_qos,
            },
            gpu_style=self.gpu_request,
            gres_name=self.gres_name,
            options=list(self.req_options),
            prologue=self.req_prologue,
            epilogue=self.req_epilogue,
        )
        return script.render_batch_script(self.batch_script, variables)

    async def submit(self, job: Job) -> JobUpdate:
        resources = normalize_resources(job.resources)
        job_name = script.sanitize_job_name(job.name or job.id, self.job_name_prefix)
        text = self.script_for(
            resources, name=job.name or job.id, job_dir=job.job_dir, cmd=self.runner_argv(job)
        )
        path = os.path.join(job.job_dir, script.SCRIPT)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        argv = script.sbatch_argv(
            path,
            job_name=job_name,
            job_dir=job.job_dir,
            options=[
                *script.mail_options(job.notify),
                *script.dependency_options(job.state.get("slurm_dependency")),
            ],
        )
        job_id = await self._sbatch(self._held(job, argv), job.job_dir, "job")
        return JobUpdate(
            status=QUEUED,
            backend_ref=job_id,
            reason=job.state.get("waiting_for") or f"submitted to SLURM as job {job_id}",
            state={"slurm_job_id": job_id},
        )

    async def _sbatch(self, argv: list[str], cwd: str, what: str) -> str:
        """Run ``sbatch`` (``argv``) and return the SLURM job id it printed; a refusal is a 400
        naming ``what`` was refused (the job, the sweep), slurmctld not answering a 503."""
        try:
            rc, out, err = await self.run(argv, cwd=cwd)
        except NotInstalled as e:
            raise NotInstalled(f"the SLURM backend is not available here: {e.message}") from None
        if rc != 0:
            message = _last_line(err) or _last_line(out) or f"sbatch exit code {rc}"
            if _unreachable(err):
                raise EngineUnavailable(f"slurmctld not answering: {message}")
            raise BadRequest(
                f"SLURM refused the {what}: {message}", field=script.field_of_message(message)
            )
        try:
            return script.parse_sbatch_output(out)
        except ValueError as e:
            raise EngineError(str(e))

    # ------------------------------------------------------------------ job definitions

    #: the next run of a definition is a job made ahead (its directory and record), held by
    #: SLURM with ``--begin``; each run makes the one after it (:mod:`jupyter_jobs.schedule_next`)
    runs_ahead = True

    def schedule_capability(self) -> str:
        return "engine"

    async def arrange_next_run(self, definition: dict[str, Any], occurrence: Any) -> None:
        """Not called: SLURM's runs are made ahead (:attr:`runs_ahead`) through the manager's
        submit by :class:`~jupyter_jobs.definitions.JobDefinitions`, and held by :meth:`submit`."""
        raise NotImplementedError("SLURM runs are arranged ahead through submit")

    async def withdraw_runs(self, definition: dict[str, Any]) -> None:
        """Nothing beyond the cancel of each waiting run (by the manager, which scancels it
        through :meth:`cancel`): SLURM holds nothing else for a definition."""

    def runner_argv(self, job: Job) -> list[str]:
        if job.definition_id:
            # arranges the run after this one (a scheduled run), decides ``skip``, runs the
            # runner, and retries the run when it failed (``retries``)
            return [self.runner_python, "-m", "jupyter_jobs.schedule_next", job.job_dir]
        return super().runner_argv(job)

    def _held(self, job: Job, argv: list[str]) -> list[str]:
        """The sbatch argv of a definition's run: held with ``--begin`` (UTC, sbatch in
        ``TZ=UTC0``) until its occurrence, ``--dependency`` for ``overlap: queue``; the reason
        it shows while it waits kept in its state. Any other job's argv as it is."""
        occurrence = parse_time(job.scheduled_for) if job.definition_id else None
        if occurrence is None:
            return argv
        path = os.path.join(self.job_root, "definitions", str(job.definition_id), "definition.json")
        definition = jobfiles.read_json(path) or {}
        previous = job.state.get(schedule.STATE_AFTER)
        options = schedule.run_options(occurrence, previous, str(definition.get("overlap") or ""))
        tz = str(definition.get("timezone") or "UTC")
        job.state[schedule.STATE_REASON] = schedule.scheduled_reason(occurrence, tz)
        return schedule.with_utc([*argv[:-1], *options, argv[-1]])

    # ------------------------------------------------------------------ sweeps: one array

    #: a sweep is one ``sbatch --array`` (:mod:`jupyter_jobs.sweeps`)
    supports_arrays = True

    def array_argv(
        self, sweep: Job, n: int, throttle: int | None, dependency: str | None = None
    ) -> tuple[list[str], str]:
        """The batch script (text) and the ``sbatch`` argv of a sweep of ``n`` children: one
        array, each task runs the runner on its child (``--array SWEEP_DIR``); held by
        ``dependency`` (``afterok:<id>``: the sweep waits for those SLURM jobs) if given."""
        resources = normalize_resources(sweep.resources)
        cmd = [self.runner_python, "-m", "jupyter_jobs.runner", "--array", sweep.job_dir]
        text = self.script_for(
            resources, name=sweep.name or sweep.id, job_dir=sweep.job_dir, cmd=cmd
        )
        path = os.path.join(sweep.job_dir, script.SCRIPT)
        job_name = script.sanitize_job_name(sweep.name or sweep.id, self.job_name_prefix)
        argv = script.sbatch_argv(
            path,
            job_name=job_name,
            job_dir=sweep.job_dir,
            options=script.dependency_options(dependency),
        )
        out = f"{sweep.job_dir}/slurm-%a.out"
        argv = [
            f"--output={out}"
            if a.startswith("--output=")
            else f"--error={out}"
            if a.startswith("--error=")
            else a
            for a in argv
        ]
        argv.insert(-1, f"--array={sweeps.array_spec(n, throttle)}")
        return argv, text

    async def submit_array(
        self,
        sweep: Job,
        children: list[Job],
        throttle: int | None,
        *,
        dependency: str | None = None,
    ) -> dict[str, JobUpdate]:
        """One ``sbatch --array=0-(N-1)%M`` for the whole sweep (with ``--dependency`` when it
        waits for SLURM jobs: SLURM holds every task): updates by child id (each child's
        ``backend_ref`` is ``<array>_<i>``), and under ``""`` the array job's id."""
        argv, text = self.array_argv(sweep, len(children), throttle, dependency)
        with open(argv[-1], "w", encoding="utf-8") as f:
            f.write(text)
        array_id = await self._sbatch(argv, sweep.job_dir, "sweep")
        updates = {"": JobUpdate(backend_ref=array_id)}
        for child in children:
            ref = f"{array_id}_{child.index}"
            updates[child.id] = JobUpdate(
                status=QUEUED,
                backend_ref=ref,
                reason=f"submitted to SLURM as array task {ref}",
                state={"slurm_job_id": ref, "slurm_array_id": array_id},
            )
        return updates

    async def cancel_array(self, array_id: str) -> bool:
        """One ``scancel`` of the whole array (every task, pending or running)."""
        rc, _out, err = await self.run(["scancel", f"--user={self.slurm_user}", array_id])
        if rc != 0:
            message = _last_line(err) or f"exit code {rc}"
            if _unreachable(err):
                raise EngineUnavailable(f"slurmctld not answering: {message}")
            if _already_gone(err):
                return False
            raise EngineError(f"scancel {array_id} failed: {message}")
        return True

    # ------------------------------------------------------------------ status

    async def squeue(self) -> dict[str, slurm_state.SlurmRecord]:
        """One call: every job of the user SLURM still knows (pending, running, recently ended)."""
        out = await self.run_checked(
            ["squeue", "-h", "-u", self.slurm_user, "-t", "all", "-o", slurm_state.SQUEUE_FORMAT]
        )
        rows = {k: v for k, v in slurm_state.parse_squeue(out).items() if v.user == self.slurm_user}
        self._squeue_cache = (time.monotonic(), rows)
        return rows

    async def sacct(self, refs: list[str]) -> dict[str, slurm_state.SlurmRecord]:
        """One call for the final records of jobs that left ``squeue`` (when accounting runs)."""
        if not refs:
            return {}
        mode = await self.accounting_mode()
        if mode == "none":
            return {}
        argv = [
            "sacct",
            "-n",
            "-P",
            "-X",
            "-u",
            self.slurm_user,
            "-j",
            ",".join(refs),
            "-o",
            slurm_state.SACCT_FIELDS,
        ]
        if mode == "jobcomp":
            argv.insert(1, "-c")
        try:
            out = await self.run_checked(argv)
        except EngineError as e:
            self.log.warning("jupyter-jobs: %s", e.message)
            return {}
        return {k: v for k, v in slurm_state.parse_sacct(out).items() if v.user == self.slurm_user}

    async def scontrol(self, ref: str) -> slurm_state.SlurmRecord | None:
        """The last resort for one job: ``scontrol show job`` (kept for SLURM's MinJobAge)."""
        rc, out, err = await self.run(["scontrol", "show", "job", "-o", ref])
        if rc != 0:
            if _unreachable(err):
                raise EngineUnavailable(f"slurmctld not answering: {_last_line(err)}")
            return None
        rec = slurm_state.parse_scontrol(out)
        return rec if rec and rec.user == self.slurm_user else None

    def _files_update(self, job: Job, update: JobUpdate) -> JobUpdate:
        """Add what the runner wrote (host, progress, log size) to a running job's update."""
        status = jobfiles.read_status(job.job_dir) or {}
        if status.get("host") and not update.host:
            update.host = status["host"]  # SLURM's node name wins: it is what squeue shows
        return jobfiles.files_update(job.job_dir, update)

    async def poll(self, jobs: list[Job]) -> dict[str, JobUpdate]:
        by_ref = {job.backend_ref: job for job in jobs if job.backend_ref}
        if not by_ref:
            return {}
        return await self._updates(by_ref, await self.squeue())

    async def _updates(
        self, by_ref: dict[str, Job], rows: dict[str, slurm_state.SlurmRecord]
    ) -> dict[str, JobUpdate]:
        updates: dict[str, JobUpdate] = {}
        gone: list[Job] = []
        ended: dict[str, slurm_state.SlurmRecord] = {}
        for ref, job in by_ref.items():
            rec = rows.get(ref) or self._array_row(ref, job, rows)
            if rec is None:
                gone.append(job)
                continue
            update = slurm_state.active_update(rec)
            if update is None:
                ended[ref] = rec
                continue
            _dependency_reason(job, rec, update)
            if rec.reason == "BeginTime" and job.state.get(schedule.STATE_REASON):
                update.reason = str(job.state[schedule.STATE_REASON])  # "scheduled for …"
            _dependency_reason(job, rec, update)
            self._misses.pop(ref, None)
            if job.status == CANCELLING and not job.state.get("scancel_done"):
                try:  # the cancel met a controller that was away: again
                    if await self._scancel(job):
                        update.state = {**(update.state or {}), "scancel_done": True}
                except EngineError as e:
                    self.log.warning("jupyter-jobs: %s", e.message)
            if update.status == RUNNING:
                self._files_update(job, update)
            updates[job.id] = update
        accounted = await self.sacct([j.backend_ref for j in gone if j.backend_ref])
        for job in [*gone, *(by_ref[r] for r in ended)]:
            ref = job.backend_ref or ""
            rec = ended.get(ref) or accounted.get(ref)
            status = jobfiles.read_status(job.job_dir)
            if rec is None and not jobfiles.runner_final(status):
                rec = await self.scontrol(ref)
            cancel = (
                job.status == CANCELLING
                or bool(job.state.get("cancel_requested"))
                or jobfiles.cancel_requested(job.job_dir)
            )
            update = slurm_state.final_update(rec, status, cancel)
            if update is not None and job.state.get("withdrawn_reason"):
                update.reason = str(job.state["withdrawn_reason"])  # "the schedule was paused"
            if update is None:
                update = self._not_settled(job, rec)
                if update is None:
                    continue
            self._misses.pop(ref, None)
            if update.status != LOST:
                self._files_update(job, update)
            updates[job.id] = update
        return updates

    @staticmethod
    def _array_row(
        ref: str, job: Job, rows: dict[str, slurm_state.SlurmRecord]
    ) -> slurm_state.SlurmRecord | None:
        """An array task that never started and is no longer pending (its array was cancelled):
        squeue keeps one row for them all under the array's own id (``123|CANCELLED``)."""
        array, sep, _task = ref.partition("_")
        rec = rows.get(array) if sep else None
        if rec is None or slurm_state.active_update(rec) is not None:
            return None
        if jobfiles.read_status(job.job_dir):
            return None  # it ran: its own row (or sacct) tells
        return rec

    def _not_settled(self, job: Job, rec: slurm_state.SlurmRecord | None) -> JobUpdate | None:
        """A job that ended without a final word: wait a few polls, then say what is known."""
        ref = job.backend_ref or ""
        misses = self._misses.get(ref, 0) + 1
        self._misses[ref] = misses
        if misses < self.lost_after:
            return None
        tail = self._slurm_out_tail(job)
        if rec is not None:  # SLURM says it ended (COMPLETED) but the runner left no status
            return JobUpdate(
                status=FAILED,
                exit_code=rec.exit_code,
                reason=f"SLURM job {ref} ended ({rec.slurm_state}) without a status from the runner"
                + (f": {tail}" if tail else f"; see {script.SLURM_OUT} in the job directory"),
            )
        return JobUpdate(
            status=LOST,
            reason=f"SLURM no longer knows job {ref} and it left no final status"
            + (f" ({tail})" if tail else ""),
        )

    @staticmethod
    def _slurm_out_tail(job: Job) -> str:
        return jobfiles.log_tail(job.job_dir, lines=1, max_bytes=2048, name=script.SLURM_OUT)[:300]

    async def reattach(self, job: Job) -> JobUpdate | None:
        """Called for each active job at start: one ``squeue`` serves all of them."""
        if not job.backend_ref:
            return None
        cache = self._squeue_cache
        if cache is None or time.monotonic() - cache[0] > 2.0:
            await self.squeue()
            cache = self._squeue_cache
        assert cache is not None
        return (await self._updates({job.backend_ref: job}, cache[1])).get(job.id)

    # ------------------------------------------------------------------ cancel and signals

    async def _owned(self, ref: str) -> bool:
        """Whether job ``ref`` is still active in SLURM and belongs to :attr:`slurm_user`."""
        rows = await self.squeue()
        rec = rows.get(ref)
        return (
            rec is not None
            and rec.user == self.slurm_user
            and (
                rec.slurm_state in slurm_state.PENDING_STATES
                or rec.slurm_state in slurm_state.RUNNING_STATES
            )
        )

    async def cancel(self, job: Job) -> JobUpdate | None:
        ref = job.backend_ref
        if not ref:
            return None
        if not await self._owned(ref):
            return None  # gone already (the next poll settles it) or not this user's job
        # not done when SLURM refused it for now: the next poll tries again while the job is active
        done = await self._scancel(job)
        return JobUpdate(state={"cancel_requested": True, "scancel_done": done})

    async def _scancel(self, job: Job) -> bool:
        """scancel the job; True when SLURM took it (False: try again at the next poll)."""
        ref = job.backend_ref or ""
        rc, _out, err = await self.run(["scancel", f"--user={self.slurm_user}", ref])
        if rc != 0:
            message = _last_line(err) or f"exit code {rc}"
            if _unreachable(err):
                raise EngineUnavailable(f"slurmctld not answering: {message}")
            if _already_gone(err):
                # it ended between our look and the scancel, or slurmctld does not know a job it
                # accepted a moment ago (seen with SLURM 22.05): the next poll settles or retries
                self.log.info(
                    "jupyter-jobs: scancel %s: %s (retried while it is active)", ref, message
                )
                return False
            raise EngineError(f"scancel {ref} failed: {message}")
        return True

    async def signal(self, job: Job, signum: int) -> None:
        if signum not in FORWARDED_SIGNALS:
            names = ", ".join(_signal.Signals(s).name for s in FORWARDED_SIGNALS)
            raise BadRequest(f"the slurm backend forwards only {names} to a job")
        ref = job.backend_ref
        if not ref or not await self._owned(ref):
            raise BadRequest(f"SLURM job {ref} is not running")
        name = _signal.Signals(signum).name.removeprefix("SIG")
        # the runner stops the whole job on these signals: the job ends cancelled, not failed
        jobfiles.request_cancel(job.job_dir, by="signal")
        rc, _out, err = await self.run(
            ["scancel", "--batch", f"--signal={name}", f"--user={self.slurm_user}", ref]
        )
        if rc != 0:
            message = _last_line(err) or f"exit code {rc}"
            if _unreachable(err):
                raise EngineUnavailable(f"slurmctld not answering: {message}")
            raise EngineError(f"scancel --signal {name} {ref} failed: {message}")
