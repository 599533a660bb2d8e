"""deploy/: the environment template cannot drift from settings.py; the units and the nginx
site say what docs/DEPLOYMENT.md promises."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS_SOURCE = ROOT / "nusatrade" / "settings.py"
# Variables read outside settings.py (deploy/gunicorn.conf.py), listed in the template too.
NOT_FROM_SETTINGS: set[str] = set()


def settings_variables() -> set[str]:
    """Every environment variable settings.py reads (env.str("X"...), env.list(\\n "X"...))."""
    text = SETTINGS_SOURCE.read_text()
    return set(re.findall(r'\benv(?:\(\))?(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', text)) | \
        set(re.findall(r'Env\(\)\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', text))


def template_variables() -> dict[str, bool]:
    """Name -> has an explanation: a prose comment in its block (lines up to a blank one)."""
    names: dict[str, bool] = {}
    explained = False
    for line in (DEPLOY / "nusatrade.env.example").read_text().splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line)
        if match:
            names[match.group(1)] = explained
        elif not line.strip():
            explained = False
        elif line.startswith("# ") and not line.startswith("# ---"):
            explained = True
    return names


def test_the_scanner_finds_multi_line_and_bare_env_reads():
    found = settings_variables()
    assert {"METRICS_ALLOWED_NETWORKS", "DB_CONNECT_TIMEOUT", "NUSATRADE_VAR_DIR",
            "SECRET_KEY", "CELERY_BROKER_URL"} <= found


def test_every_setting_is_in_the_environment_template():
    missing = settings_variables() - set(template_variables())
    assert missing == set(), f"add to deploy/nusatrade.env.example with an explanation: {missing}"


def test_the_template_lists_nothing_settings_does_not_read():
    unknown = set(template_variables()) - settings_variables() - NOT_FROM_SETTINGS
    assert unknown == set(), f"not read by nusatrade/settings.py: {unknown}"


def test_every_template_entry_is_explained():
    unexplained = [name for name, explained in template_variables().items() if not explained]
    assert unexplained == []


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's keys -> values (repeated keys kept; continuation lines joined)."""
    text = (DEPLOY / "systemd" / name).read_text().replace("\\\n", " ")
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def test_a_worker_unit_exists_for_every_routed_queue():
    queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    queues.add(settings.CELERY_TASK_DEFAULT_QUEUE)
    wanted = " ".join(unit("nusatrade.target")["Wants"])
    assert {q for q in queues if f"nusatrade-worker@{q}.service" not in wanted} == set()
    (start,) = unit("nusatrade-worker@.service")["ExecStart"]
    assert "celery -A nusatrade worker -Q %i" in start and "--pool=prefork" in start


def test_check_production_is_in_the_start_sequence_of_everything_that_trades():
    preflight = unit("nusatrade-preflight.service")
    assert preflight["ExecStart"] == [
        "/opt/nusatrade/.venv/bin/python manage.py check_production"]
    assert any("migrate --noinput" in step for step in preflight["ExecStartPre"])
    for name in ("nusatrade-web.service", "nusatrade-beat.service",
                 "nusatrade-worker@.service"):
        keys = unit(name)
        assert keys["Requires"] == ["nusatrade-preflight.service"], name
        assert keys["After"] == ["nusatrade-preflight.service"], name
        assert keys["EnvironmentFile"] == ["/etc/nusatrade/nusatrade.env"], name
    # The maintenance worker is what makes the checklist pass: it only Wants preflight.
    override = unit("nusatrade-worker@maintenance.service.d/preflight.conf")
    assert override["Requires"] == [""] and override["Wants"] == ["nusatrade-preflight.service"]


def test_beat_uses_the_database_scheduler_of_the_settings():
    (start,) = unit("nusatrade-beat.service")["ExecStart"]
    assert f"--scheduler {settings.CELERY_BEAT_SCHEDULER}" in start


def test_gunicorn_config_loads_and_drops_dead_workers_metrics(tmp_path, monkeypatch):
    config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert config["bind"].startswith("127.0.0.1:") and config["timeout"] == 30
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead = tmp_path / "gauge_liveall_4242.db"
    dead.write_bytes(b"")
    config["child_exit"](None, type("Worker", (), {"pid": 4242})())
    assert not dead.exists()


def test_nginx_site_terminates_tls_and_passes_the_request_id():
    site = (DEPLOY / "nginx" / "nusatrade.conf").read_text()
    proxy = (DEPLOY / "nginx" / "nusatrade-proxy.conf").read_text()
    assert "listen 443 ssl;" in site and "ssl_protocols TLSv1.2 TLSv1.3;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert re.search(r"location = /metrics \{\s+allow [0-9a-f.:/]+;[^\n]*\n\s+deny all;", site)
    assert "X-Forwarded-Proto $scheme" in proxy and "X-Request-ID $request_id" in proxy


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_units(tmp_path):
    units = [p for p in (DEPLOY / "systemd").iterdir() if p.is_file()]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)],
                            capture_output=True, text=True, timeout=60)
    # Paths of the target machine (/opt/nusatrade, the nusatrade user) do not exist here.
    problems = [line for line in result.stderr.splitlines()
                if line and "/opt/nusatrade" not in line and "nusatrade.env" not in line
                and "User=" not in line and "not found" not in line.lower()]
    assert problems == []
