import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The floors, top down: each may import the ones below it, never one above (lazy imports inside functions too).
FLOORS = ("cli", "flows", "tasks", "pidengine")
# Orchestration and tracking live above the library.
ABOVE_THE_LIBRARY = ("prefect", "mlflow", "dask.distributed")


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """Every absolute ``import`` statement in ``path``, at any depth."""
    return [node for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.module and not node.level)]


def _modules(node: ast.ImportFrom | ast.Import) -> list[str]:
    return [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


MODULES = [(floor, path) for floor in FLOORS for path in sorted((ROOT / floor).rglob("*.py"))]


@pytest.mark.parametrize(("floor", "path"), MODULES, ids=[str(path.relative_to(ROOT)) for _, path in MODULES])
def test_no_module_imports_a_floor_above_its_own(floor, path):
    above = FLOORS[: FLOORS.index(floor)] + (ABOVE_THE_LIBRARY if floor == "pidengine" else ())
    upward = sorted(m for node in _imports(path) for m in _modules(node) if _within(m, above))
    assert not upward, f"{path.relative_to(ROOT)} imports {upward}, above the {floor} floor"


@pytest.mark.parametrize(("floor", "path"), MODULES, ids=[str(path.relative_to(ROOT)) for _, path in MODULES])
def test_no_module_imports_another_floors_private_names(floor, path):
    private = sorted(f"{node.module}.{alias.name}" for node in _imports(path) if isinstance(node, ast.ImportFrom)
                     and not _within(node.module, (floor,)) for alias in node.names if alias.name.startswith("_"))
    assert not private, f"{path.relative_to(ROOT)} imports private names of another floor: {private}"


@pytest.mark.parametrize("command", ["main", "run"])
def test_command_line_starts_without_heavy_dependencies(command):
    # `pidengine --help`, `catalog list` and `run --help` must answer at once: no solver, network or array framework
    # at start-up. `run` reads the flows' parameters, whose estimator settings are read from the estimators' own
    # signatures and bounds: the estimators' modules load torch and scikit-learn only where they compute.
    code = (
        f"import sys, pidengine, cli.{command}; cli.{command}.build_parser(); "
        "print(','.join(m for m in ('torch', 'cvxpy', 'dask', 'sklearn', 'xarray', 'zarr', 'prefect', 'mlflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the command line imports {out.stdout.strip()} at start-up"


def test_lazy_names_resolve():
    import pidengine
    import pidengine.datasets
    import pidengine.estimators
    import pidengine.estimators.batch

    for module in (pidengine, pidengine.datasets, pidengine.estimators, pidengine.estimators.batch):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pidengine.Nope  # noqa: B018
