"""The documentation runs as written and stays true to the code.

* Every ```python block of docs/*.md and README.md is executed, the blocks of one file in order
  and in one scratch directory (a copy of ``examples/`` inside), so that later blocks may read
  files written by earlier ones. The one exception: README's Python block uses the paper's
  horizon t_max = 20.0 (20 s); it is run with t_max = 1.0, the same code path.
* Every ```bash / ```console line that is a ``quaddmft ...`` or ``python -m quaddmft ...`` command
  is run in-process through ``quaddmft.cli.main`` (the checkout's code, not an installed copy) and
  must exit with status 0. The only other lines allowed are the set-up commands in ``SETUP``
  (pip installs, the test suite itself), which are not run here.
* A ```toml block whose first line is ``# file: NAME`` is written to NAME first.
* The ``>>>`` examples in the docstrings of every quaddmft module run (doctest).
* Every option and public name mentioned in docs/ exists, and every one that exists is documented;
  the signatures and defaults written in docs/api.md and docs/numerics.md match the code;
  every docs/theory.md equation number cited in a docstring exists in docs/theory.md.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import pkgutil
import re
import shlex
import shutil
from pathlib import Path

import pytest

import quaddmft as qd
from quaddmft import cli

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOC_FILES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
SETUP = {"pip install .", 'pip install ".[test]"', "python -m pytest -q",
         "python -m pytest -m slow"}
# README's Python block: the paper's horizon, shortened for the test (see the module docstring).
README_SUBSTITUTIONS = [("t_max=20.0", "t_max=1.0")]


def blocks(path: Path):
    """(language, code) of every fenced block of a Markdown file, in order."""
    return [(m.group(1).lower(), m.group(2)) for m in FENCE.finditer(path.read_text())]


def commands(code: str):
    """The command lines of a shell block (prompt '$ ' stripped, comments and blanks dropped)."""
    for line in code.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if line and not line.startswith("#"):
            yield line


def run_command(line: str) -> None:
    argv = shlex.split(line, comments=True)
    if argv[0] == "quaddmft":
        args = argv[1:]
    elif argv[:3] == ["python", "-m", "quaddmft"]:
        args = argv[3:]
    else:
        assert line in SETUP, f"shell line neither a quaddmft command nor a known set-up step: {line}"
        return
    code = cli.main(args)
    assert code == 0, f"exit status {code} for: {line}"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_doc_blocks_run(path, tmp_path, monkeypatch):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for index, (lang, code) in enumerate(blocks(path)):
        where = f"{path.name}, block {index + 1}"
        if lang == "python":
            if path.name == "README.md":
                for old, new in README_SUBSTITUTIONS:
                    code = code.replace(old, new)
            exec(compile(code, where, "exec"), {"__name__": "__docs__"})
        elif lang in ("bash", "console", "sh", "shell"):
            for line in commands(code):
                run_command(line)
        elif lang == "toml":
            first = code.splitlines()[0]
            match = re.match(r"#\s*file:\s*(\S+)", first)
            if match:
                Path(match.group(1)).write_text(code)


def quaddmft_modules():
    names = ["quaddmft"] + [f"quaddmft.{m.name}" for m in pkgutil.iter_modules(qd.__path__)]
    return [n for n in names if not n.endswith("__main__")]


@pytest.mark.parametrize("name", quaddmft_modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see above)"


def parser_options() -> set[str]:
    parser = cli._parser()
    options = {"--help", "--config"}
    for sub in parser._subparsers._group_actions[0].choices.values():
        for action in sub._actions:
            options.update(o for o in action.option_strings if o.startswith("--"))
    return options


def doc_text() -> str:
    """The docs without their ```text blocks (other programs' commands, e.g. ``dask worker
    --nthreads 1``, whose options are not quaddmft's)."""
    text = "\n".join(p.read_text() for p in DOC_FILES)
    return re.sub(r"^```text\n.*?^```", "", text, flags=re.M | re.S)


def test_cli_options_documented_and_real():
    options = parser_options()
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", doc_text()))
    assert mentioned - options == set(), "documented options that do not exist"
    guide = (DOCS / "guide.md").read_text()
    missing = {o for o in options if not re.search(rf"{o}(?![\w-])", guide)}
    assert missing == set(), "options missing from docs/guide.md"


def test_config_keys_documented():
    guide = (DOCS / "guide.md").read_text()
    for key in cli.CONFIG_KEYS:
        option = "--" + key.replace("_", "-")
        assert option in guide or f"`{key}`" in guide, key


def test_every_public_name_in_api_reference():
    api = (DOCS / "api.md").read_text()
    missing = [n for n in qd.__all__ if not re.search(rf"qd\.{re.escape(n)}\b", api)]
    assert missing == [], f"public names not in docs/api.md: {missing}"


def test_rule_names_documented_exist():
    text = doc_text()
    for name in re.findall(r"--rule[ =]([a-z]+)", text):
        assert name in qd.RULES, name


def test_cited_theory_equations_exist():
    tags = set(re.findall(r"\\tag\{([0-9]+\.[0-9]+)\}", (DOCS / "theory.md").read_text()))
    cite = re.compile(r"docs/theory\.md,?\s+eqs?\.\s*([0-9]+\.[0-9]+)(?:\s*-\s*([0-9]+\.[0-9]+))?")
    for path in sorted((REPO / "quaddmft").glob("*.py")):
        for first, last in cite.findall(path.read_text()):
            for number in filter(None, (first, last)):
                assert number in tags, f"{path.name} cites docs/theory.md eq. {number}"


def documented_signatures():
    """(name, argument text) of the signatures in api.md headings and bullets and numerics.md
    section headings, e.g. ``qd.QMC(n_points=256, n_h0=8, n_replicates=16, seed=0)``."""
    api = (DOCS / "api.md").read_text()
    numerics = (DOCS / "numerics.md").read_text()
    starts = re.compile(r"^(?:### |- |## \d+\. )`(?:qd\.)?(\w+)\(", re.M)
    out = []
    for text in (api, numerics):
        for match in starts.finditer(text):
            depth, i = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            out.append((match.group(1), text[match.end(): i - 1]))
    return out


def split_arguments(text: str):
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [p for p in parts + [current.strip()] if p and p not in ("*", "...")]


def test_documented_signatures_and_defaults_match_the_code():
    import inspect

    checked = 0
    for name, arguments in documented_signatures():
        obj = getattr(qd, name, None)
        if obj is None or (isinstance(obj, type) and issubclass(obj, BaseException)):
            continue  # a module-private name, or an exception shown with its base class
        params = inspect.signature(obj).parameters
        for argument in split_arguments(" ".join(arguments.split())):
            key, _, default = argument.partition("=")
            key = key.strip()
            assert key in params, f"{name}: documented argument {key!r} does not exist"
            if default:
                actual = params[key].default
                if dataclasses.is_dataclass(obj):
                    field = {f.name: f for f in dataclasses.fields(obj)}.get(key)
                    if field is not None and field.default_factory is not dataclasses.MISSING:
                        actual = field.default_factory()
                value = eval(default, vars(qd))
                assert actual == value, f"{name}({key}=...): documented {default}, code {actual!r}"
            checked += 1
    assert checked > 30
