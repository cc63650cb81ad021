"""Build hook: the wheel carries the project files a run needs (conf/, schemas/, the sample's eval set) as
`refinery/_home`, so an installed wheel (a cluster's packed environment, a Databricks task) finds them
without a checkout. Everything else about the package is declared in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Folders copied into the package, relative to the project folder (refinery.paths.project_root finds them).
PROJECT_FILES = ("conf", "schemas", "data/sample/eval")


class BuildWithProjectFiles(build_py):
    def run(self):
        super().run()
        home = Path(self.build_lib, "refinery", "_home")
        for folder in PROJECT_FILES:
            shutil.copytree(folder, home / folder, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithProjectFiles})
