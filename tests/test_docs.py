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
* A DeprecationWarning raised by a documentation block's own call (an old spelling such as
  ``m0="finite-d"`` or ``*_sem``) is an error: the docs show the current API only.
* The ``>>>`` examples in the docstrings of every quaddmft module run (doctest), subpackages
  (``quaddmft.rules``) included.
* Every option and public name mentioned in docs/ exists, and every one that exists is documented;
  the signatures and defaults written in docs/api.md and docs/numerics.md match the code (every
  argument listed, unless the signature says ``...``); every dotted ``quaddmft.<module>.<name>``
  and every ``quaddmft/<path>`` the docs mention exists; every docs/theory.md equation number and
  section cited in a docstring exists in docs/theory.md.
* docs/architecture.md lists every module of the package, and its floors are true: every import
  inside the package points to a lower floor.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import importlib
import pkgutil
import re
import shlex
import shutil
import warnings
from pathlib import Path

import pytest

import quaddmft as qd
from quaddmft import _config, cli

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PACKAGE = REPO / "quaddmft"
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
            with warnings.catch_warnings():
                # Warnings attributed to the block itself (quaddmft's deprecations use stacklevel
                # to point at the caller): the docs must not use a deprecated spelling.
                warnings.filterwarnings("error", category=DeprecationWarning, module="__docs__")
                # dont_inherit: run the block as written, not under this file's __future__ flags
                exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "__docs__"})
        elif lang in ("bash", "console", "sh", "shell"):
            for line in commands(code):
                run_command(line)
        elif lang == "toml":
            first = code.splitlines()[0]
            match = re.match(r"#\s*file:\s*(\S+)", first)
            if match:
                Path(match.group(1)).write_text(code)


def quaddmft_modules():
    names = ["quaddmft"] + [m.name for m in pkgutil.walk_packages(qd.__path__, "quaddmft.")]
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
    for key in _config.CONFIG_KEYS:
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


def package_files():
    """Every source file of the package, subpackages included."""
    return sorted(PACKAGE.rglob("*.py"))


def test_cited_theory_equations_exist():
    theory = (DOCS / "theory.md").read_text()
    tags = set(re.findall(r"\\tag\{([0-9]+\.[0-9]+)\}", theory))
    sections = set(re.findall(r"^## ([0-9]+)\. ", theory, re.M))
    cite = re.compile(r"docs/theory\.md,?\s+eqs?\.\s*([0-9]+\.[0-9]+)(?:\s*-\s*([0-9]+\.[0-9]+))?")
    cite_section = re.compile(r"(?:docs/theory\.md,?|THEORY)\s+section\s+([0-9]+)")
    files = package_files()
    assert PACKAGE / "rules" / "qmc.py" in files
    for path in files:
        text = path.read_text()
        name = path.relative_to(PACKAGE)
        for first, last in cite.findall(text):
            for number in filter(None, (first, last)):
                assert number in tags, f"{name} cites docs/theory.md eq. {number}"
        for number in cite_section.findall(text):
            assert number in sections, f"{name} cites docs/theory.md section {number}"


def documented_signatures():
    """(name, argument text) of the signatures in api.md headings and bullets and numerics.md
    section headings, e.g. ``qd.MonteCarlo(n_samples=8192, n_replicates=8, seed=0)`` or
    ``qd.references.oracle_error(delta)``."""
    api = (DOCS / "api.md").read_text()
    numerics = (DOCS / "numerics.md").read_text()
    starts = re.compile(r"^(?:### |- |## \d+\. )`(?:qd\.)?(\w+(?:\.\w+)*)\(", re.M)
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
    return [p for p in parts + [current.strip()] if p and p != "*"]


def resolve(dotted: str, root=qd):
    """The object ``root.<dotted>`` (attributes, or submodules imported on the way), else None."""
    obj = root
    for part in dotted.split("."):
        if not hasattr(obj, part) and getattr(obj, "__name__", None) and hasattr(obj, "__path__"):
            try:
                importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def test_documented_signatures_and_defaults_match_the_code():
    import inspect

    checked = 0
    for name, arguments in documented_signatures():
        obj = resolve(name)
        if obj is None or (isinstance(obj, type) and issubclass(obj, BaseException)):
            continue  # a module-private name, or an exception shown with its base class
        params = inspect.signature(obj).parameters
        documented = split_arguments(" ".join(arguments.split()))
        if "..." not in documented:
            listed = {a.partition("=")[0].strip() for a in documented}
            assert listed == set(params), (
                f"{name}: documented arguments {sorted(listed)}, code {sorted(params)}")
        for argument in documented:
            if argument == "...":
                continue
            key, _, default = argument.partition("=")
            key = key.strip()
            assert key in params, f"{name}: documented argument {key!r} does not exist"
            if default:
                actual = params[key].default
                if dataclasses.is_dataclass(obj):
                    field = {f.name: f for f in dataclasses.fields(obj)}.get(key)
                    if field is not None and field.default_factory is not dataclasses.MISSING:
                        actual = field.default_factory()
                value = eval(default, {name: getattr(qd, name) for name in qd.__all__})
                assert actual == value, f"{name}({key}=...): documented {default}, code {actual!r}"
            checked += 1
    assert checked > 30


# ------------------------------------------------------------------------------------------------
# Names and paths the docs mention


def test_dotted_names_and_paths_in_docs_exist():
    """``quaddmft.<module>.<name>``, ``qd.<name>...`` and ``quaddmft/<path>`` mentioned in docs/
    and README.md are real (so that a moved module cannot leave a stale reference behind)."""
    text = doc_text()
    missing = []
    for dotted in sorted(set(re.findall(r"(?<![\w/.-])quaddmft\.(\w+(?:\.\w+)*)", text))):
        obj = resolve(dotted)
        if obj is None:
            missing.append(f"quaddmft.{dotted}")
            continue
        # A private module is cited by what it defines, not by what it happens to import.
        module, _, name = dotted.rpartition(".")
        defined = getattr(obj, "__module__", None)
        if (module and module.split(".")[-1].startswith("_") and defined is not None
                and not isinstance(obj, type(qd)) and defined != f"quaddmft.{module}"):
            missing.append(f"quaddmft.{dotted} (defined in {defined})")
    for dotted in sorted(set(re.findall(r"(?<![\w.])qd\.(\w+(?:\.\w+)*)", text))):
        if resolve(dotted) is None:
            missing.append(f"qd.{dotted}")
    for path in sorted(set(re.findall(r"(?<![\w/.-])quaddmft/[\w/.]*\w", text))):
        if not (REPO / path).exists():
            missing.append(path)
    assert missing == [], f"names or paths in the docs that do not exist: {missing}"


# ------------------------------------------------------------------------------------------------
# docs/architecture.md: the module map and the floors


def module_of(path: Path) -> str:
    """``rules/qmc.py`` -> ``rules.qmc``; ``rules/__init__.py`` -> ``rules``; ``__init__.py`` ->
    ``quaddmft``."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "quaddmft"


def package_imports(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports (function-level imports included)."""
    rel = path.relative_to(PACKAGE)
    module = module_of(rel)
    package = [] if module == "quaddmft" else module.split(".")
    if rel.name != "__init__.py":
        package = package[:-1]
    modules = {module_of(p.relative_to(PACKAGE)) for p in package_files()}
    out = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        # The package's __init__ imports lazily (PEP 562): the modules named in its _EXPORTS
        # table and _SUBMODULES are its imports.
        if (rel.as_posix() == "__init__.py" and isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") in ("_EXPORTS", "_SUBMODULES")):
            value = ast.literal_eval(node.value)
            out.update(name.lstrip(".") for name in (value if isinstance(value, tuple) else value))
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            name = ".".join(target) or "quaddmft"
            out.add(name)
            for alias in node.names:  # ``from . import references``: a module
                sub = ".".join(target + [alias.name])
                if sub in modules:
                    out.add(sub)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                if name == "quaddmft" or name.startswith("quaddmft."):
                    out.add(name.removeprefix("quaddmft.") if name != "quaddmft" else name)
    return (out & modules) - {module}


def architecture_floors() -> dict[str, int]:
    """Module -> floor, from the table rows ``| N | `a.py`, `b/c.py` | ...`` of architecture.md."""
    text = (DOCS / "architecture.md").read_text()
    floors = {}
    for number, cells in re.findall(r"^\| (\d+) \|(.*)$", text, re.M):
        for path in re.findall(r"`([\w/]+\.py)`", cells.split("|")[0]):
            assert module_of(Path(path)) not in floors, f"{path} is on two floors"
            floors[module_of(Path(path))] = int(number)
    return floors


def module_map() -> dict[str, set[str]]:
    """Module -> the modules its row of the architecture.md module map says it imports (rows
    ``| `file.py` | concept | holds | imports |``; ``nothing`` is the empty set)."""
    text = (DOCS / "architecture.md").read_text()
    rows = {}
    for path, imports in re.findall(r"^\| `([\w/]+\.py)` \|.*\|(.*)\|$", text, re.M):
        names = re.findall(r"`([\w/]+)`", imports)
        rows[module_of(Path(path))] = {n.replace("/", ".") for n in names}
    return rows


def test_architecture_lists_every_module():
    text = (DOCS / "architecture.md").read_text()
    files = [p.relative_to(PACKAGE).as_posix() for p in package_files()]
    missing = [f for f in files if f"`{f}`" not in text]
    assert missing == [], f"modules missing from docs/architecture.md: {missing}"
    rows = module_map()
    modules = {module_of(p.relative_to(PACKAGE)): p for p in package_files()}
    assert set(rows) == set(modules), "module map rows: one per module of the package"
    wrong = {name: (sorted(rows[name]), sorted(package_imports(path)))
             for name, path in modules.items() if rows[name] != package_imports(path)}
    assert wrong == {}, f"module map imports (documented, actual) that differ: {wrong}"


def test_every_import_points_down():
    floors = architecture_floors()
    modules = {module_of(p.relative_to(PACKAGE)): p for p in package_files()}
    assert set(floors) == set(modules), (
        f"floors of docs/architecture.md: missing {sorted(set(modules) - set(floors))}, "
        f"unknown {sorted(set(floors) - set(modules))}")
    upward = [f"{name} (floor {floors[name]}) imports {target} (floor {floors[target]})"
              for name, path in modules.items() for target in sorted(package_imports(path))
              if floors[target] >= floors[name]]
    assert upward == [], "imports that do not point down: " + "; ".join(upward)
