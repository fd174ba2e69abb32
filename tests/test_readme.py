"""Every code block in README.md is exercised: Python blocks run, `ssmctb` commands parse."""

import re
import shlex

import pytest

from keras_ssmctb import cli
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(PYTHON_BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "__readme__"})


def _commands():
    for block in BASH_BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0].strip()
            if line:
                yield line


def test_readme_ssmctb_commands_parse():
    parser = cli._parser()
    commands = [c for c in _commands() if c.startswith("ssmctb ")]
    assert len(commands) >= 4
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        assert args.command in ("train", "evaluate", "export")


def test_readme_make_targets_exist():
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = {c.split()[1] for c in _commands() if c.startswith("make ")}
    assert {"demo", "test", "install"} <= targets
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), target
