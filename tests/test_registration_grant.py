"""A registration check returns what it grants (plugins/auth.py); it never writes into the connection."""

from __future__ import annotations

import attrs
import pytest

from tgo_host.model import parse_register
from tgo_host.plugins.auth import GLOBAL, Grant, RegistrationPolicy, RegistrationRefused, mint_dev_token
from tgo_host.plugins.peer import PeerInfo
from tgo_host.wire.messages import AUTH_FAILED

SECRET = "a-test-secret-long-enough-for-hs256-keys"


@attrs.frozen
class Applicant:
    """A registering connection a check can only look at: assigning to it raises."""

    peer: PeerInfo


def params(**extra: object) -> object:
    return parse_register({"name": "p", "id": "com.example.p", **extra})


def test_a_unix_socket_plugin_is_granted_nothing_special() -> None:
    policy = RegistrationPolicy(SECRET)
    assert policy(Applicant(PeerInfo("unix", pid=1, uid=0, gid=0)), params()) == GLOBAL == Grant()
    assert RegistrationPolicy(None)(Applicant(PeerInfo("unix")), params()) == GLOBAL  # no secret needed there


def test_a_dev_token_grants_its_project_and_dev_mode() -> None:
    token = mint_dev_token(SECRET, "proj-7", "user-1", 3600)
    grant = RegistrationPolicy(SECRET)(Applicant(PeerInfo("tcp", address="127.0.0.1:5")), params(dev_token=token))
    assert grant == Grant(project_id="proj-7", dev_mode=True)


@pytest.mark.parametrize("secret, token", [(SECRET, None), (None, "x"), (SECRET, "not-a-jwt")])
def test_a_tcp_plugin_without_a_valid_token_is_refused(secret: str | None, token: str | None) -> None:
    with pytest.raises(RegistrationRefused) as info:
        RegistrationPolicy(secret)(Applicant(PeerInfo("tcp", address="127.0.0.1:5")), params(dev_token=token))
    assert info.value.code == AUTH_FAILED and info.value.message.startswith("Authentication failed: ")
