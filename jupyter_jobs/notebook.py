"""``python -m jupyter_jobs.notebook INPUT OUTPUT [--parameters JSON] [--kernel NAME]``.

Runs a notebook with papermill: parameters go into the cell tagged ``parameters``; the executed
notebook is written to OUTPUT after every cell (so it can be opened while it runs); each finished
cell updates the job's progress ("cell 3 of 10"); what cells print streams to the job's log as is.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

#: Set to ``1`` in a job's environment to import jsonschema's optional "iri" format checker in the
#: notebook driver anyway (see :func:`skip_unused_imports`).
ENV_FULL_IMPORTS = "JUPYTER_JOBS_NOTEBOOK_FULL_IMPORTS"


def skip_unused_imports() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process (the notebook driver).

    nbformat imports jsonschema, whose ``_format`` module imports ``rfc3987_syntax`` when it is
    installed (jupyter_events pulls it in) only to check strings of format "iri"; that import
    builds a Lark grammar: ~1.3 s of CPU, most of what a trivial notebook job cost besides the
    kernel. Nothing here checks formats (nbformat validates without a format checker, and its
    schema has no "iri"), so the checker is not needed. Safe: only this driver process is
    affected, never the kernel (the user's code runs in its own interpreter, which imports what
    it imports).
    """
    if os.environ.get(ENV_FULL_IMPORTS) != "1":
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


skip_unused_imports()

import papermill  # noqa: E402
from papermill.engines import NBClientEngine, papermill_engines  # noqa: E402

from .progress import progress  # noqa: E402

ENGINE = "jupyter_jobs"


#: The tag papermill gives the cell it adds with the parameters of a run.
INJECTED_TAG = "injected-parameters"


def counted(cell: Any) -> bool:
    """Whether ``cell`` counts in "cell N of M": a code cell of the user's with code in it.

    The cell papermill injects with the run's parameters is not the user's: a 2-cell notebook run
    with parameters reads "cell 2 of 2" at the end, not "cell 3 of 3".
    """
    if cell.cell_type != "code" or not cell.source.strip():
        return False
    return INJECTED_TAG not in (cell.get("metadata", {}).get("tags") or [])


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, reporting each finished code cell as job progress."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        total = sum(1 for c in nb_man.nb.cells if counted(c)) or 1
        done = {"n": 0}
        progress(0.0, f"cell 0 of {total}")
        original = nb_man.cell_complete

        def cell_complete(cell, cell_index=None, **kw: Any):
            original(cell, cell_index=cell_index, **kw)
            if counted(cell):
                done["n"] += 1
                progress(done["n"] / total, f"cell {done['n']} of {total}")

        nb_man.cell_complete = cell_complete
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_jobs.notebook")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--parameters", default="{}", help="JSON object")
    parser.add_argument("--kernel", default=None)
    parser.add_argument("--cwd", default=None)
    parser.add_argument("--html", default=None, help="also write an HTML report here")
    parser.add_argument("--no-input", action="store_true", help="the report hides input cells")
    args = parser.parse_args(argv)
    parameters = json.loads(args.parameters)
    # papermill's own messages (the kernel it starts, errors) go to the job's log
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    papermill_engines.register(ENGINE, ProgressEngine)
    try:
        papermill.execute_notebook(
            args.input,
            args.output,
            parameters=parameters,
            kernel_name=args.kernel,
            engine_name=ENGINE,
            progress_bar=False,
            # cell outputs stream to the job's log as the cells print them, unchanged
            log_output=False,
            stdout_file=sys.stdout,
            stderr_file=sys.stderr,
            request_save_on_cell_execute=True,
            cwd=args.cwd,
        )
    except papermill.PapermillExecutionError as e:
        print(
            f"jupyter-jobs: the notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}",
            file=sys.stderr,
        )
        return 1
    finally:
        if args.html:  # a failed run gets its report too: it shows the error
            render_html(args.output, args.html, no_input=args.no_input)
    return 0


def render_html(notebook: str, html: str, *, no_input: bool = False) -> bool:
    """Write the executed ``notebook`` as an HTML report (nbconvert's HTMLExporter; ``no_input``
    hides the input cells). A report that cannot be made is said in the job's log; the job's
    outcome stays the notebook's."""
    import os

    if not os.path.exists(notebook):
        print("jupyter-jobs: no HTML report: the notebook was not written", file=sys.stderr)
        return False
    try:
        import nbformat
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(exclude_input=no_input, exclude_input_prompt=no_input)
        body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
        tmp = f"{html}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, html)
    except Exception as e:  # ImportError (no nbconvert here), a broken template, a full disk
        print(f"jupyter-jobs: the HTML report could not be written: {e}", file=sys.stderr)
        return False
    print(f"jupyter-jobs: HTML report written to {os.path.basename(html)}", file=sys.stderr)
    return True


if __name__ == "__main__":
    sys.exit(main())
