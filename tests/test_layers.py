import subprocess
import sys


def test_library_imports_no_orchestration_or_tracking():
    code = (
        "import sys, pidengine, pidengine.cli; "
        "bad = [m for m in ('prefect', 'mlflow') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"pidengine imports {out.stdout.strip()}"
