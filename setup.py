"""Build hook: a wheel carries the suite's top-level sources as package data.

The notebooks, profiles, published values, checklist and article sources live at the top of
the repository (analysis/, index.qmd, validation.qmd, _quarto.yml), where readers look for
them; ``tace.resources.source_root`` finds them there in a checkout and in ``tace/_source``
of an installed wheel, which this hook fills, with the commit the wheel was built from.
Everything else is in pyproject.toml.
"""

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SOURCES = ("analysis", "index.qmd", "validation.qmd", "_quarto.yml")  # = tace.resources.SOURCE_FILES


class BuildWithSources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "tace" / "_source"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in SOURCES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, target / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            else:
                shutil.copy2(src, target / name)
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                    check=False, timeout=10).stdout.strip() or None
        except OSError:
            commit = None
        (target / "build.json").write_text(json.dumps({"git_commit": commit}) + "\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildWithSources})
