"""Start-up imports no heavy numerical library: ``django.setup()`` and ``manage.py check`` (which
also loads the URL conf, so every view) stay fast for the web server, the admin and every
command that does not compute. pandas, numba, scikit-learn, SciPy, matplotlib and TA-Lib cost
about 11 s here on a cold start; they are imported where they are used.

If this fails, a module on the start-up path (models, admin, apps, urls, views, serializers,
selectors, a services package ``__init__``) imports a heavy module at top level: move that
import into the function that needs it (bench/bench_startup.py measures the difference).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import clean_env, run_python

HEAVY = ("numpy", "pandas", "numba", "sklearn", "scipy", "matplotlib", "talib", "skops",
         "joblib", "pandas_ta_classic", "threadpoolctl", "tqdm", "boto3")
_PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nusatrade.settings")
import django
django.setup()
if {check}:
    from django.core.management import call_command
    call_command("check", verbosity=0)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps(sorted({{m.split(".")[0] for m in heavy}})))
"""


@pytest.mark.parametrize("check", [False, True], ids=["django.setup", "manage.py check"])
def test_startup_imports_no_heavy_library(check):
    result = run_python(_PROBE.format(check=check, heavy=HEAVY),
                        env=clean_env(NUSATRADE_ENV="test"), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"imported at start-up: {loaded}"


def test_the_probe_sees_a_heavy_import():
    # Guards the probe: importing a service that needs pandas must show up.
    code = _PROBE.format(check=False, heavy=HEAVY).replace(
        "heavy = ", "import marketdata.services.imports\nheavy = ")
    result = run_python(code, env=clean_env(NUSATRADE_ENV="test"), timeout=120)
    assert "pandas" in json.loads(result.stdout.strip().splitlines()[-1])
