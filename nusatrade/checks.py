"""Production rules as Django system checks (ids nusatrade.E0xx), shared with the start-up guard."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=False)
def production_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{p.setting}: {p.rule}", hint=p.hint or None, id=p.id)
        for p in getattr(settings, "PRODUCTION_PROBLEMS", [])
    ]


MIN_METRICS_TOKEN_LENGTH = 32


@checks.register(checks.Tags.security, deploy=False)
def metrics_protection_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """/metrics shows orders, exposure and kill switches: never to the internet."""
    import ipaddress

    if not settings.IS_PRODUCTION:
        return []
    problems: list[checks.CheckMessage] = []
    token = settings.METRICS_TOKEN
    networks = settings.METRICS_ALLOWED_NETWORKS
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        problems.append(checks.Error(
            f"METRICS_TOKEN: must be at least {MIN_METRICS_TOKEN_LENGTH} characters",
            hint="python -c \"import secrets; print(secrets.token_urlsafe(48))\"",
            id="nusatrade.E016"))
    for text in networks:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            problems.append(checks.Error(
                "METRICS_ALLOWED_NETWORKS: every entry must be an address or CIDR network",
                hint="e.g. 10.0.0.0/8,127.0.0.1", id="nusatrade.E018"))
            continue
        if network.prefixlen == 0:
            problems.append(checks.Error(
                "METRICS_ALLOWED_NETWORKS: must not allow every address (/0)",
                hint="list the Prometheus server's network, or use METRICS_TOKEN",
                id="nusatrade.E015"))
    if not token and not networks:
        problems.append(checks.Warning(
            "METRICS_TOKEN / METRICS_ALLOWED_NETWORKS: neither is set, /metrics answers 404 "
            "to everyone and nothing monitors this deployment",
            hint="set METRICS_TOKEN (bearer token for Prometheus) or METRICS_ALLOWED_NETWORKS",
            id="nusatrade.W017"))
    return problems
