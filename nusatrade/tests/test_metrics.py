"""/metrics: Prometheus exposition (parsed, not grepped), protected by token or network."""

from __future__ import annotations

import pytest
from django.core import checks
from prometheus_client.parser import text_string_to_metric_families

from nusatrade.metrics import observe_cycle
from nusatrade.tasks import ping

TOKEN = "m3tr1cs-T0ken-" + "Qx7Lp2Vz9Rk4Hs8Jd1Wc6Ny3Bf5Gt0Am"


def scrape(client, **extra) -> dict[str, dict]:
    """Samples by metric name: {name: {frozenset(labels.items()): value}}."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[name][frozenset(labels.items())]


@pytest.fixture
def open_metrics(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return settings


# --- protection ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_allowed_network_is_served_without_a_token(client, open_metrics):
    assert "nusatrade_process_resident_memory_bytes" in scrape(client)


@pytest.mark.django_db
def test_the_right_bearer_token_is_served_from_any_address(client, open_metrics):
    samples = scrape(client, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "nusatrade_process_resident_memory_bytes" in samples


@pytest.mark.django_db
def test_a_wrong_token_is_forbidden_even_from_an_allowed_network(client, open_metrics):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 403
    assert b"nusatrade_" not in response.content


@pytest.mark.django_db
def test_a_token_is_refused_when_none_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404  # an empty bearer is no token at all
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 403


@pytest.mark.django_db
def test_an_outside_address_without_token_gets_404(client, open_metrics):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 404
    assert b"nusatrade_" not in response.content


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_client_is_judged(client, open_metrics):
    open_metrics.TRUSTED_PROXY_DEPTH = 1
    # nginx on loopback forwards an outside client: loopback must not let it in.
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                         HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert outside.status_code == 404
    open_metrics.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                      HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200


@pytest.mark.django_db
def test_ipv6_networks_are_honoured(client, open_metrics):
    open_metrics.METRICS_ALLOWED_NETWORKS = ["2001:db8::/32"]
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db9::5").status_code == 404


def _metrics_check_ids(settings, token: str, networks: list[str]) -> set[str]:
    from nusatrade.checks import metrics_protection_check

    settings.IS_PRODUCTION = True
    settings.METRICS_TOKEN = token
    settings.METRICS_ALLOWED_NETWORKS = networks
    return {m.id for m in metrics_protection_check()}


@pytest.mark.parametrize(("token", "networks", "ids"), [
    (TOKEN, [], set()),
    ("", ["10.0.0.0/8"], set()),
    ("", [], {"nusatrade.W017"}),  # unreachable: nothing monitors production
    ("short", [], {"nusatrade.E016"}),
    ("", ["0.0.0.0/0"], {"nusatrade.E015"}),
    ("", ["::/0", "10.0.0.0/8"], {"nusatrade.E015"}),
    ("", ["not-a-network"], {"nusatrade.E018"}),
])
def test_production_refuses_unprotected_metrics(settings, token, networks, ids):
    assert _metrics_check_ids(settings, token, networks) == ids


def test_metrics_checks_are_silent_outside_production(settings):
    settings.IS_PRODUCTION = False
    settings.METRICS_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    assert [m for m in checks.run_checks() if m.id.startswith("nusatrade.E01")] == []


# --- content ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_request_latency_is_labelled_by_view_name_not_path(client, open_metrics):
    client.get("/healthz")
    client.get("/no/such/page/12345")
    samples = scrape(client)
    counts = samples["nusatrade_http_request_duration_seconds_count"]
    views = {dict(labels)["view"] for labels in counts}
    assert "healthz" in views and "<unresolved>" in views
    assert not any("12345" in view for view in views)
    assert value(samples, "nusatrade_http_request_duration_seconds_count",
                 view="<unresolved>", method="GET", status="404") >= 1


@pytest.mark.django_db
def test_cycle_latency_is_a_histogram_the_cycle_feeds(client, open_metrics):
    before = scrape(client).get("nusatrade_cycle_duration_seconds_count", {}).get(
        frozenset({"outcome": "ok"}.items()), 0)
    observe_cycle(1.5)
    observe_cycle(0.2)
    samples = scrape(client)
    assert value(samples, "nusatrade_cycle_duration_seconds_count", outcome="ok") == before + 2
    assert value(samples, "nusatrade_cycle_duration_seconds_bucket", outcome="ok",
                 le="1.0") >= 1


@pytest.mark.django_db
def test_eager_celery_tasks_are_counted_with_their_queue_and_state(client, open_metrics):
    def count(samples, state):
        return samples.get("nusatrade_celery_tasks_total", {}).get(
            frozenset({"task": "nusatrade.ping", "queue": "eager", "state": state}.items()), 0)

    before = count(scrape(client), "SUCCESS")
    ping.apply(args=["x"])  # in this process whatever the broker (a real worker: below)
    samples = scrape(client)
    assert count(samples, "SUCCESS") == before + 1
    assert value(samples, "nusatrade_celery_task_duration_seconds_count",
                 task="nusatrade.ping", queue="eager") >= 1


@pytest.mark.django_db
def test_process_cpu_and_memory_are_exposed(client, open_metrics):
    samples = scrape(client)
    rss = value(samples, "nusatrade_process_resident_memory_bytes", role="web")
    assert rss > 10 * 1024 * 1024  # a Django process is tens of MB
    assert value(samples, "nusatrade_process_cpu_seconds", role="web") > 0


@pytest.mark.django_db
def test_a_failing_collector_is_reported_down_and_the_scrape_still_answers(client, open_metrics):
    from nusatrade.metrics import core

    def broken():
        raise RuntimeError("database gone")

    core.register_collector("broken-test", broken)
    try:
        samples = scrape(client)
    finally:
        core._COLLECTORS.pop("broken-test")
    assert value(samples, "nusatrade_metrics_collector_up", collector="broken-test") == 0
    assert value(samples, "nusatrade_metrics_collector_up", collector="trading") == 1


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_database_connection_use_is_read_from_postgres(client, open_metrics):
    samples = scrape(client)
    assert value(samples, "nusatrade_db_max_connections") >= 1
    assert sum(samples["nusatrade_db_connections"].values()) >= 1  # this very connection
