"""Admin: import runs show their report and quarantined rows, read-only, behind OTP."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketdata.models import ImportRun
from marketdata.services import bars_import
from marketdata.tests.helpers import MT5_HEADER, hourly_rows, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.test",
                                                     "a-long-password-123")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def run(tmp_path) -> ImportRun:
    rows = hourly_rows("2024-03-04", 5)
    rows[2] = "2024.03.04\t02:00:00\t<script>alert(1)</script>\t1\t1\t1\t1\t0\t1"
    return bars_import(write(tmp_path, "xau.csv", "\n".join([MT5_HEADER, *rows]) + "\n"),
                       "XAUUSD", "H1")


def test_changelist_shows_runs_with_key_columns(admin_client, run):
    page = admin_client.get("/admin/marketdata/importrun/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "xau.csv" in html and "XAUUSD" in html and "succeeded" in html.lower()


def test_detail_shows_the_report_and_quarantined_rows_escaped(admin_client, run):
    page = admin_client.get(f"/admin/marketdata/importrun/{run.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "read 5 = accepted 4 + rejected 1 + exact duplicates 0" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert f"?import_run__id__exact={run.pk}" in html
    assert 'name="_save"' not in html  # read-only


def test_quarantine_list_filters_by_run(admin_client, run, tmp_path):
    other = bars_import(write(tmp_path, "b.csv", f"{MT5_HEADER}\nbroken\n"), "XAUUSD", "H1")
    page = admin_client.get(f"/admin/marketdata/quarantinedrow/?import_run__id__exact={run.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "unparsable row" in html and "broken" not in html
    assert other.rejected == 1


def test_runs_cannot_be_added_by_hand(admin_client):
    assert admin_client.get("/admin/marketdata/importrun/add/").status_code == 403
