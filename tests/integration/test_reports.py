"""Reports (docs/CONTRACT.md, "Reports"): a notebook job with ``output_formats: ["ipynb", "html"]``
writes its HTML report (nbconvert, inside the job) next to the executed notebook, both in
``outputs`` under the root and served by JupyterLab's own ``files`` handler; ``report.no_input``
hides the input cells; a failing notebook gets its report too (it shows the error). Real server,
real papermill runs."""

from __future__ import annotations

import json

import nbformat
import pytest


def write_notebook(path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


async def test_an_html_report_is_written_listed_and_served(jobs_api, jp_root_dir, jp_fetch):
    write_notebook(
        jp_root_dir / "daily.ipynb", "secret_source = 6 * 7", "print('answer', secret_source)"
    )
    job = await jobs_api.submit({"path": "daily.ipynb", "output_formats": ["ipynb", "html"]})
    assert job["output_formats"] == ["ipynb", "html"]
    ipynb, html = job["outputs"]
    assert ipynb.startswith("job-outputs/daily-") and ipynb.endswith(".ipynb")
    assert html == ipynb[: -len(".ipynb")] + ".html"
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed", await jobs_api.log(job["id"])
    text = (jp_root_dir / html).read_text()
    assert "answer 42" in text and "secret_source" in text  # outputs and inputs
    assert "<html" in text.lower()
    r = await jp_fetch("files", *html.split("/"), method="GET")  # JupyterLab's own download
    assert r.code == 200 and b"answer 42" in r.body
    assert "HTML report written" in await jobs_api.log(job["id"])


async def test_no_input_hides_the_input_cells(jobs_api, jp_root_dir):
    write_notebook(
        jp_root_dir / "quiet.ipynb",
        "hidden_code_marker = 'shown-output'\nprint(hidden_code_marker)",
    )
    job = await jobs_api.submit(
        {"path": "quiet.ipynb", "output_formats": ["html"], "report": {"no_input": True}}
    )
    assert job["output_formats"] == ["ipynb", "html"] and job["report"] == {"no_input": True}
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "completed"
    text = (jp_root_dir / done["outputs"][1]).read_text()
    assert "shown-output" in text
    assert "hidden_code_marker" not in text


async def test_a_failing_notebook_still_gets_its_report_showing_the_error(jobs_api, jp_root_dir):
    write_notebook(
        jp_root_dir / "broken.ipynb", "print('before')", "raise ValueError('boom-in-cell')"
    )
    job = await jobs_api.submit({"path": "broken.ipynb", "output_formats": ["ipynb", "html"]})
    done = await jobs_api.wait(job["id"], timeout=120)
    assert done["status"] == "failed"
    text = (jp_root_dir / done["outputs"][1]).read_text()
    assert "before" in text and "boom-in-cell" in text and "ValueError" in text


async def test_without_html_only_the_executed_notebook(jobs_api, jp_root_dir):
    write_notebook(jp_root_dir / "plain.ipynb", "1 + 1")
    job = await jobs_api.submit({"path": "plain.ipynb"})
    assert job["output_formats"] == ["ipynb"] and len(job["outputs"]) == 1
    await jobs_api.wait(job["id"], timeout=120)
    assert not list((jp_root_dir / "job-outputs").glob("*.html"))


async def test_rerun_keeps_the_report(jobs_api, jp_root_dir):
    write_notebook(jp_root_dir / "again.ipynb", "print('again')")
    job = await jobs_api.submit({"path": "again.ipynb", "output_formats": ["ipynb", "html"]})
    await jobs_api.wait(job["id"], timeout=120)
    r = await jobs_api.request("POST", f"jobs/{job['id']}/rerun")
    assert r.code == 201, r.body
    rerun = json.loads(r.body)
    assert rerun["output_formats"] == ["ipynb", "html"] and rerun["outputs"][1].endswith(".html")


@pytest.mark.parametrize(
    "body, words",
    [
        ({"path": "s.py", "output_formats": ["html"]}, "this job runs a script"),
        ({"path": "n.ipynb", "output_formats": ["pdf"]}, "'pdf' is not a format"),
        ({"path": "n.ipynb", "output_formats": "html"}, "must be a list"),
        ({"path": "n.ipynb", "report": {"no_input": "yes"}}, "true or false"),
        ({"path": "n.ipynb", "report": {"theme": "dark"}}, "unknown option"),
        ({"path": "n.ipynb", "report": ["no_input"]}, "must be options"),
    ],
)
async def test_bad_report_requests_are_400s_in_the_users_words(jobs_api, jp_root_dir, body, words):
    (jp_root_dir / "s.py").write_text("print(1)\n")
    write_notebook(jp_root_dir / "n.ipynb", "1")
    r = await jobs_api.request("POST", "jobs", body)
    assert r.code == 400, r.body
    answer = json.loads(r.body)
    assert words in answer["message"], answer
    assert answer["message"].startswith(("Output formats", "Report")), answer
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["total"] == 0
