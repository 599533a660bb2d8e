"""mt5linux by configuration: MT5_MODULE names a bridge class, built with a loopback or
private host only (its rpyc classic port runs any code sent to it)."""

from __future__ import annotations

import pytest

from nusatrade.errors import ConfigurationError
from trading.brokers import load_mt5_module, validate_bridge_host
from trading.brokers.mt5sim import MT5Simulator


class Bridge(MT5Simulator):
    """Stands for ``mt5linux.MetaTrader5``: a class taking host and port."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.8.0.2", "192.168.1.20",
                                  "172.16.5.4", "::1", "fd00::5"])
def test_loopback_and_private_bridge_hosts_are_accepted(host):
    assert validate_bridge_host(host) == host


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_a_public_bridge_host_is_refused(host):
    with pytest.raises(ConfigurationError, match="loopback or a private tunnel"):
        validate_bridge_host(host)


def test_a_bridge_class_is_built_with_the_configured_host_and_port(settings):
    settings.MT5_MODULE = "trading.tests.test_brokers_mt5_bridge:Bridge"
    settings.MT5_BRIDGE_HOST, settings.MT5_BRIDGE_PORT = "127.0.0.1", 18899
    module = load_mt5_module()
    assert isinstance(module, Bridge) and (module.host, module.port) == ("127.0.0.1", 18899)


def test_a_bridge_on_a_public_address_never_connects(settings):
    settings.MT5_MODULE = "trading.tests.test_brokers_mt5_bridge:Bridge"
    settings.MT5_BRIDGE_HOST = "8.8.8.8"
    with pytest.raises(ConfigurationError, match="public address"):
        load_mt5_module()
