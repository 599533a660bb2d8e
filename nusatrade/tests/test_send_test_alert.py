"""``manage.py send_test_alert [--json]``: the launch checklist's proof that alerts arrive."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from nusatrade.models import AlertTestRecord
from nusatrade.tests.alert_servers import WebhookReceiver

pytestmark = pytest.mark.django_db  # every run is recorded for check_production


@pytest.fixture
def webhook(settings):
    receiver = WebhookReceiver()
    settings.ALERT_WEBHOOK_URL = f"{receiver.url}/hook"
    settings.ALERT_EMAILS = ["ops@nusatrade.test"]
    settings.ALERT_RETRY_BACKOFF_SECONDS = 0.01
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NUSATRADE_ENV = "test"  # the subject names it; `make test` may run without it set
    yield receiver
    receiver.close()


def test_sends_to_every_channel_and_says_so(webhook, mailoutbox):
    out = StringIO()
    call_command("send_test_alert", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines == ["email: sent after 1 attempt(s): 1 recipient(s)",
                     "webhook: sent after 1 attempt(s): HTTP 200",
                     "test alert sent to 2 channel(s)"]
    assert webhook.texts()[0].startswith("[NusaTrade test] test: Test alert")
    assert mailoutbox[0].subject == "[NusaTrade test] test: Test alert"


def test_json_output_and_no_rate_limit_between_runs(webhook, mailoutbox):
    for _ in range(2):
        out = StringIO()
        call_command("send_test_alert", "--json", stdout=out)
        result = json.loads(out.getvalue())
        assert result["kind"] == "test" and result["status"] == "sent"
        assert [c["status"] for c in result["channels"]] == ["sent", "sent"]
    assert len(webhook.requests) == 2 and len(mailoutbox) == 2


def test_failing_channel_exits_non_zero_with_the_json_still_printed(webhook, settings):
    webhook.statuses = [500, 500, 500]
    settings.ALERT_EMAILS = []
    out = StringIO()
    with pytest.raises(CommandError, match="test alert failed"):
        call_command("send_test_alert", "--json", stdout=out)
    (channel,) = json.loads(out.getvalue())["channels"]
    assert (channel["status"], channel["attempts"], channel["detail"]) == ("failed", 3, "HTTP 500")
    assert AlertTestRecord.objects.get().status == "failed"  # recorded, so not counted as sent


def test_no_channel_configured_exits_non_zero(settings):
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_EMAILS = []
    with pytest.raises(CommandError, match="not_configured: set ALERT_EMAILS"):
        call_command("send_test_alert", stdout=StringIO())
