import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "pidengine"
ORCHESTRATION = ("prefect", "mlflow", "flows", "tasks", "dask.distributed")
# The command line still lives in the library and hands `pidengine run` to the flows (issue 14 moves it up a floor).
TOP_FLOOR = {LIBRARY / "cli.py"}


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement in ``path`` names, at any depth (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(LIBRARY.rglob("*.py")), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_library_module_imports_no_orchestration_or_tracking(path):
    if path in TOP_FLOOR:
        pytest.skip("the command line is the top floor")
    upward = sorted(m for m in _imported_modules(path)
                    if any(m == layer or m.startswith(layer + ".") for layer in ORCHESTRATION))
    assert not upward, f"{path.name} imports {upward}"


def test_command_line_starts_without_heavy_dependencies():
    # `pidengine --help` and `catalog list` must answer at once: no solver, network or array framework at start-up.
    code = (
        "import sys, pidengine, pidengine.cli; pidengine.cli.build_parser(); "
        "print(','.join(m for m in ('torch', 'cvxpy', 'dask', 'sklearn', 'xarray', 'zarr', 'prefect', 'mlflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the command line imports {out.stdout.strip()} at start-up"


def test_lazy_names_resolve():
    import pidengine
    import pidengine.datasets
    import pidengine.estimators

    for module in (pidengine, pidengine.datasets, pidengine.estimators):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pidengine.Nope  # noqa: B018
