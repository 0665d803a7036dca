"""Packaging glue: the wheel carries the game specs, corpora and shipped agents.

``envs/`` and ``data/`` stay at the repository root as the source; ``build_py`` copies what a
user needs into ``instructed_rl/_shipped/`` of the built package (``instructed_rl.resources``
looks there first). An editable install copies nothing: it reads the checkout.
Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# (source folder, file patterns): an agent needs its config, weights and tokenizer; its record,
# card and report are what the model card and `instructed-rl push` show. Curves and metrics stay out.
SHIPPED = [("envs", ["*.yaml"]), ("data/corpora", ["*.yaml"])] + [
    (f"data/agents/{name}", ["config.json", "model.safetensors", "tokenizer.model", "training_record.json",
                             "README.md", "zero_shot_report.md"])
    for name in ("default", "reader")
]


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target_root = Path(self.build_lib) / "instructed_rl" / "_shipped"
        for folder, patterns in SHIPPED:
            files = sorted({p for pattern in patterns for p in (ROOT / folder).glob(pattern)})
            if not files:
                raise SystemExit(f"setup.py: nothing matches {patterns} in {folder}; the wheel would lack it")
            self.mkpath(str(target_root / folder))
            for source in files:
                self.copy_file(str(source), str(target_root / folder / source.name), preserve_mode=False)


setup(cmdclass={"build_py": BuildWithData})
