"""jupyter-jobs: background jobs, SLURM and Kubernetes launcher jobs and remote kernels for Jupyter.

``pip install .`` builds the JupyterLab extension with npm when its built assets are missing, and
installs them together with the server-extension config, so ``jupyter lab`` loads both halves.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).parent.resolve()
NPM_NAME = "jupyter-jobs"
LAB_OUT = HERE / "jupyter_jobs" / "labextension"


def build_labextension(force: bool = False) -> None:
    """Run the npm build when the built assets are missing (pip never runs npm by itself)."""
    if (LAB_OUT / "package.json").exists() and not force:
        return
    if os.environ.get("JUPYTER_JOBS_SKIP_NPM") == "1":
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "jupyter-jobs: the JupyterLab extension is not built and npm is not on PATH.\n"
            "Install Node.js 20 (with npm) and run pip again, or install a wheel that contains it."
        )
    if not (HERE / "node_modules").exists():
        subprocess.check_call([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE)
    subprocess.check_call([npm, "run", "build:prod"], cwd=HERE)


class BuildPy(build_py):
    def run(self):
        build_labextension()
        super().run()


class SDist(sdist):
    def run(self):
        build_labextension()
        super().run()


def data_files():
    build_labextension()
    out = []
    for root, _dirs, files in os.walk(LAB_OUT):
        rel = Path(root).relative_to(LAB_OUT)
        target = Path("share/jupyter/labextensions") / NPM_NAME / rel
        out.append((str(target), [str(Path(root, f).relative_to(HERE)) for f in files]))
    out.append(
        (
            "etc/jupyter/jupyter_server_config.d",
            ["jupyter-config/jupyter_server_config.d/jupyter_jobs.json"],
        )
    )
    return out


def version() -> str:
    ns: dict = {}
    exec((HERE / "jupyter_jobs" / "_version.py").read_text(), ns)
    return ns["__version__"]


setup(
    name="jupyter-jobs",
    version=version(),
    description="Background jobs, SLURM/Kubernetes launcher jobs and remote kernels for JupyterLab",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["jupyter_jobs", "jupyter_jobs.*"]),
    # package data is declared here, file by file pattern; MANIFEST.in only decides what goes
    # into the sdist (include_package_data would take the built frontend and the schema folders
    # as would-be packages, and setuptools warns about each). The built frontend is not package
    # data: it is installed as data_files, where JupyterLab looks for it.
    package_data={
        "jupyter_jobs": ["event_schemas/*/*.yaml", "openapi.json", "templates/*"],
    },
    data_files=data_files(),
    install_requires=[
        "jupyterlab>=4.0,<5",
        "jupyter_server>=2.14,<3",
        "jupyter_events>=0.10",
        "jupyter_client>=8",
        "traitlets>=5.9",
        "tornado>=6.2",
        "psutil>=5.9",
        "papermill>=2.5",
        "nbformat>=5",
        "ipykernel>=6",
    ],
    extras_require={
        "kubernetes": ["kubernetes_asyncio>=29"],
        "test": [
            "pytest>=8",
            "pytest-jupyter[server]>=0.10",
            "pytest-timeout",
            "pytest-xdist>=3.6",  # scripts/test-all.sh: -n 3 --dist loadgroup (tests/conftest.py)
            "jsonschema>=4",
            "openapi-spec-validator>=0.7",
            "schemathesis>=4.32,<5; python_version >= '3.11'",  # it needs 3.11
            "kubernetes_asyncio>=29",
            "kubernetes-validate>=1.30",
            "playwright>=1.40",
            "ruff>=0.6",
            "mypy>=1.10",
            "jupyterlab>=4.6,<5",
            "jupyter_console>=6.6",  # tests/kernels: jupyter console on a remote kernel
        ],
    },
    entry_points={
        "console_scripts": ["jupyter-jobs = jupyter_jobs.cli:main"],
        "jupyter_client.kernel_provisioners": [
            "jupyter-jobs-provisioner = jupyter_jobs.kernels.provisioner:JobKernelProvisioner",
        ],
    },
    cmdclass={"build_py": BuildPy, "sdist": SDist},
    zip_safe=False,
)
