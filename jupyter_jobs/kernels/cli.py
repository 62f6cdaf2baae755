"""``jupyter jobs kernelspec install|list|remove``: remote-kernel specs for other frontends.

The server offers these specs by itself (see :mod:`.specs`); this command writes them where other
frontends (VS Code, nbclassic, ``jupyter console``) look. Profiles come from the same config files
the server reads (``jupyter_server_config.*``), so the specs match what the server would run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

from jupyter_core.paths import jupyter_data_dir, jupyter_path

from .. import serverconfig
from .specs import MARK, RemoteKernelSpecs, is_ours, write_spec_dir

PROG = "jupyter jobs kernelspec"


def load_config() -> Any:
    return serverconfig.load()


def load_spawners(config: Any) -> dict[str, Any]:
    from ..spawners.factory import SpawnerFactory

    factory = SpawnerFactory(config=config)
    wanted = list(config.get("JobManager", {}).get("enabled_backends", [])) or factory.names()
    spawners = {}
    for name in wanted:
        try:
            spawner = factory.get_class(name)(config=config)
        except Exception as e:  # a broken backend must not stop the others
            print(f"{PROG}: backend {name} not loaded: {e}", file=sys.stderr)
            continue
        if spawner.enabled:
            spawners[name] = spawner
    return spawners


def target_dir(a: argparse.Namespace) -> str:
    if a.prefix:
        return os.path.join(a.prefix, "share", "jupyter", "kernels")
    if a.sys_prefix:
        return os.path.join(sys.prefix, "share", "jupyter", "kernels")
    return os.path.join(jupyter_data_dir(), "kernels")


def our_specs(dirs: list[str]) -> list[tuple[str, str, dict]]:
    """(name, directory, kernel.json) of every spec of ours found in ``dirs``."""
    out = []
    for parent in dirs:
        if not os.path.isdir(parent):
            continue
        for name in sorted(os.listdir(parent)):
            d = os.path.join(parent, name)
            if os.path.isdir(d) and is_ours(d):
                with open(os.path.join(d, "kernel.json"), encoding="utf-8") as f:
                    out.append((name, d, json.load(f)))
    return out


async def _available(
    spawners: dict[str, Any], keep: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The spawners whose engine answers (a named ``keep`` backend is kept regardless), and why
    each other kernel backend is not available now."""
    out, down = {}, {}
    for name, spawner in spawners.items():
        if not spawner.supports_kernels:
            continue
        try:
            await spawner.start()
            ok, reason = await spawner.check_available()
        except Exception as e:  # a broken backend must not stop the others
            ok, reason = False, str(e)
        finally:
            try:
                await spawner.stop()
            except Exception:
                pass
        if ok or name == keep:
            out[name] = spawner
            if not ok:
                print(
                    f"{PROG}: warning: the {_label(spawner)} backend is not available now"
                    f" ({reason or 'no reason given'}); its kernel specs are installed anyway"
                    " and its kernels start once it is back",
                    file=sys.stderr,
                )
        else:
            down[name] = reason or "no reason given"
    return out, down


def _label(spawner: Any) -> str:
    return str(getattr(spawner, "display_name", "") or spawner.name)


def cmd_install(a: argparse.Namespace) -> int:
    import asyncio

    config = load_config()
    loaded = load_spawners(config)
    if a.backend and a.backend not in loaded:
        known = ", ".join(n for n, s in loaded.items() if s.supports_kernels) or "none"
        print(
            f"{PROG}: nothing installed: no backend {a.backend!r} with kernels is enabled"
            f" (backends with kernels: {known})",
            file=sys.stderr,
        )
        return 1
    spawners, down = asyncio.run(_available(loaded, a.backend))
    specs = RemoteKernelSpecs(config=config).specs(spawners)
    if a.backend:
        specs = {k: v for k, v in specs.items() if v["metadata"][MARK]["backend"] == a.backend}
    if a.profile:
        specs = {k: v for k, v in specs.items() if v["metadata"][MARK]["profile"] in a.profile}
    for name, why in down.items():
        print(
            f"{PROG}: not installed: the kernel specs of {_label(loaded[name])}: that backend"
            f" is not available now ({why}). Install them when it is, or now with"
            f" --backend {name} (they work once it is back).",
            file=sys.stderr,
        )
    if not specs:
        if down:
            print(f"{PROG}: nothing installed", file=sys.stderr)
        else:
            print(
                f"{PROG}: nothing installed: no profile offers kernels"
                + (f" among {', '.join(a.profile)}" if a.profile else "")
                + ' (set "kernels": true in a profile, e.g. of c.SlurmSpawner.profiles or'
                " c.KubernetesSpawner.profiles)",
                file=sys.stderr,
            )
        return 1
    parent = target_dir(a)
    for name, spec in specs.items():
        d = write_spec_dir(parent, name, spec)
        print(f"installed {name} ({spec['display_name']}) in {d}")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    found = our_specs(jupyter_path("kernels"))
    if a.json:
        print(json.dumps({name: {"dir": d, "spec": spec} for name, d, spec in found}, indent=1))
        return 0
    if not found:
        print("no remote-kernel specs installed (jupyter jobs kernelspec install)")
        return 0
    width = max(len(n) for n, _, _ in found)
    for name, d, spec in found:
        print(f"{name.ljust(width)}  {spec.get('display_name', '')}  {d}")
    return 0


def cmd_remove(a: argparse.Namespace) -> int:
    found = our_specs(jupyter_path("kernels"))
    targets = found if a.all else [f for f in found if f[0] in a.names]
    missing = set(a.names) - {f[0] for f in targets}
    for name in sorted(missing):
        print(f"{PROG}: no remote-kernel spec named {name!r}", file=sys.stderr)
    for name, d, _ in targets:
        try:
            shutil.rmtree(d)
        except OSError as e:
            print(f"{PROG}: cannot remove {d}: {e.strerror}", file=sys.stderr)
            return 1
        print(f"removed {name} ({d})")
    return 1 if missing or not targets else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="write a kernel spec per profile that offers kernels")
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="in your user dir (default)")
    where.add_argument("--sys-prefix", action="store_true", help="in this Python environment")
    where.add_argument("--prefix", help="under PREFIX/share/jupyter/kernels")
    inst.add_argument("--backend", help="only this backend's profiles")
    inst.add_argument("--profile", action="append", help="only this profile (repeatable)")
    ls = sub.add_parser("list", help="list installed remote-kernel specs")
    ls.add_argument("--json", action="store_true", help="answer JSON")
    rm = sub.add_parser("remove", help="remove remote-kernel specs (never other kernels)")
    rm.add_argument("names", nargs="*", help="kernel names (see list)")
    rm.add_argument("--all", action="store_true", help="remove every remote-kernel spec")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command == "remove" and not a.names and not a.all:
        parser.error("remove: name kernels to remove, or give --all")
    return {"install": cmd_install, "list": cmd_list, "remove": cmd_remove}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
