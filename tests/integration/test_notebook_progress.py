"""A notebook job's "cell N of M" counts the user's cells, not the one papermill injects."""

from __future__ import annotations

import nbformat
import pytest

# The second cell prints the progress the job had while it ran (after the first cell finished).
READ_PROGRESS = (
    "import json, os\n"
    "with open(os.path.join(os.environ['JUPYTER_JOBS_DIR'], 'progress.json')) as f:\n"
    "    print('progress while cell 2 ran:', json.load(f)['message'])\n"
    "print('alpha is', alpha)"
)


def two_cell_notebook(root, name="two.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_markdown_cell("# notes"),
        nbformat.v4.new_code_cell(READ_PROGRESS),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(root / name))


@pytest.mark.parametrize("parameters", [{"alpha": 7}, None], ids=["with-parameters", "without"])
async def test_two_cell_notebook_reads_cell_2_of_2(jobs_api, jp_root_dir, parameters):
    two_cell_notebook(jp_root_dir)
    body: dict = {"path": "two.ipynb"}
    if parameters:
        body["parameters"] = parameters
    job = await jobs_api.submit(body)
    done = await jobs_api.wait(job["id"], timeout=120)
    log = await jobs_api.log(job["id"])
    assert done["status"] == "completed", (done, log)
    assert done["progress"]["message"] == "cell 2 of 2", done["progress"]
    assert done["progress"]["fraction"] == 1.0
    assert "progress while cell 2 ran: cell 1 of 2" in log, log
    assert f"alpha is {7 if parameters else 1}" in log
    if parameters:
        # papermill did inject its cell: the count left it out
        out = nbformat.read(str(jp_root_dir / done["outputs"][0]), as_version=4)
        tags = [c.metadata.get("tags", []) for c in out.cells]
        assert ["injected-parameters"] in tags
