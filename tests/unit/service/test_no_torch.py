import subprocess
import sys


def test_the_api_never_imports_torch():
    """Building the app and serving a request must not load torch (the API image stays slim)."""
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from core.settings import Settings\n"
        "from service.app import create_app\n"
        "app = create_app(Settings(auth_enabled=False, redis_url='redis://127.0.0.1:1/0'), maintenance=False)\n"
        "assert TestClient(app).get('/healthz').status_code == 200\n"
        "app.openapi()\n"
        "import service.routes.videos, service.routes.content, service.submission, core.storage\n"
        "bad = sorted(m for m in ('torch', 'diffusers', 'transformers', 'models') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
