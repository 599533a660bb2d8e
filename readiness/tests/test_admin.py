"""The readiness admin (behind the OTP login): read-only list and detail with the verdict
coloured and the criteria, the HTML report served from the row's file, and the dashboard's
"Readiness verdicts" panel (newest verdict per model)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import Role, User
from accounts.services import totp_device_create, user_create
from readiness.models import ReadinessReport
from readiness.tests.factories import readiness_report
from trading.services import account_create
from trading.tests.apidata import ml_model

pytestmark = pytest.mark.django_db
LIST = "/admin/readiness/readinessreport/"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def reports(tmp_path):
    User.objects.create(username="readiness")
    account = account_create("readiness", name="readiness #1 model 1")
    model, other = ml_model("rf", 1), ml_model("gb", 1)
    page = tmp_path / "readiness-1.html"
    page.write_text("<!DOCTYPE html><html><body>NO-GO report</body></html>")
    old = readiness_report(model, account)   # superseded by the next run of the same model
    return {"old": old, "latest": readiness_report(model, account, no_go=True,
                                                   report_path=str(page)),
            "other": readiness_report(other, account)}


@pytest.fixture
def admin_client() -> Client:
    """A superuser logged in with password and TOTP (model admins are superuser-only)."""
    user = user_create("boss", PASSWORD, roles=(Role.ADMIN,), staff=True, superuser=True)
    device = totp_device_create(user).device
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {
        "username": "boss", "password": PASSWORD, "otp_device": device.persistent_id,
        "otp_token": f"{totp.token():0{device.digits}d}"})
    assert response.status_code == 302
    return client


def test_pages_need_the_second_factor(reports):
    response = Client().get(LIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_list_and_detail_render_read_only_with_the_verdict_coloured(reports, admin_client):
    page = admin_client.get(LIST).content.decode()
    assert page.count('style="color:#b00">NO-GO') == 1
    assert page.count('style="color:#070">GO') == 2
    latest = reports["latest"]
    detail = admin_client.get(f"{LIST}{latest.pk}/change/").content.decode()
    assert latest.reasons[0].split(":")[0] in detail and "FAIL" in detail
    assert "readinessreport/add/" not in page and 'name="_save"' not in detail
    assert admin_client.post(f"{LIST}{latest.pk}/delete/").status_code == 403


def test_the_report_link_serves_the_rows_html_file(reports, admin_client):
    latest = reports["latest"]
    response = admin_client.get(f"{LIST}{latest.pk}/report/")
    assert response.status_code == 200 and b"NO-GO report" in response.content
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert admin_client.get(f"{LIST}{reports['old'].pk}/report/").status_code == 404  # no file


def test_the_dashboard_shows_the_latest_verdict_per_model(reports, admin_client):
    page = admin_client.get("/admin/dashboard/").content.decode()
    panel = page.split('id="readiness-verdicts"')[1].split("</table>")[0]
    shown = [r for r in ReadinessReport.objects.all() if f"readinessreport/{r.pk}/change" in panel]
    assert {r.pk for r in shown} == {reports["latest"].pk, reports["other"].pk}
    assert "win rate 45.0% is not above 50.0%" in panel
    assert f"readinessreport/{reports['latest'].pk}/report/" in panel
