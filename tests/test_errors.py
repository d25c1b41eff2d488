"""The error tree (tgo_host/errors.py): one base, each class its kind and status, the answer a lookup."""

from __future__ import annotations

import orjson
import pytest

from tgo_host.api.errors import ApiError, from_exception, invalid_body
from tgo_host.errors import HostError
from tgo_host.marketplace.pgstore import StoreUnavailable
from tgo_host.model import ValidationError
from tgo_host.plugins.confinement import ManifestNotAllowed, SourceNotAllowed
from tgo_host.plugins.dispatch import CapabilityMissing, InvalidResult, PluginNotFound
from tgo_host.plugins.auth import RegistrationRefused
from tgo_host.plugins.supervisor import InstallError, SupervisorError, UnknownPlugin
from tgo_host.wire.errors import Busy, ConnectionLost, InvalidResponse, RemoteError, RequestTimeout, RpcFailure


def body(error: ApiError) -> tuple[int, dict, dict[str, str]]:
    response = error.response()
    return response.status_code, orjson.loads(response.body), dict(response.headers)


def test_plugin_failures_answer_their_own_status_kind_and_fields() -> None:
    cases = [
        (RequestTimeout("p", "x/render", 5), 504, "plugin_timeout", {}),
        (ConnectionLost("p", "peer closed"), 502, "plugin_disconnected", {}),
        (InvalidResponse("p", "not a response"), 502, "invalid_plugin_result", {}),
        (RpcFailure("p", "odd"), 502, "plugin_failure", {}),
        (InvalidResult("p", "x/render", ValidationError("data.items", "required")), 502, "invalid_plugin_result",
         {"validation": "data.items: required"}),
        (RemoteError("p", "x/render", -32000, "boom", {"a": 1}), 502, "plugin_error",
         {"rpc_error": {"code": -32000, "message": "boom", "data": {"a": 1}}}),
        (RemoteError("p", "x/render", -32000, "boom"), 502, "plugin_error",
         {"rpc_error": {"code": -32000, "message": "boom"}}),
    ]
    for exc, status, kind, extra in cases:
        got_status, got, headers = body(from_exception(exc, "p"))
        assert got_status == status, exc
        assert got == {"detail": exc.message, "error": {"type": kind, "message": exc.message, "plugin_id": "p", **extra}}
        assert "retry-after" not in headers


def test_busy_says_when_to_retry_and_a_store_outage_too() -> None:
    status, got, headers = body(from_exception(Busy("p", 4), "p"))
    assert (status, got["error"]["type"], headers["retry-after"]) == (503, "plugin_busy", "1")
    status, got, headers = body(from_exception(StoreUnavailable("db down")))
    assert (status, got["error"]["type"], headers["retry-after"]) == (503, "store_unavailable", "5")


def test_lookup_failures_name_their_own_plugin() -> None:
    status, got, _ = body(from_exception(PluginNotFound("a"), "ignored"))
    assert (status, got["error"]) == (404, {"type": "plugin_not_found", "message": "plugin 'a' is not connected",
                                             "plugin_id": "a"})
    status, got, _ = body(from_exception(CapabilityMissing("a", "mcp_tools")))
    assert (status, got["error"]["type"], got["error"]["plugin_id"]) == (404, "capability_not_found", "a")


def test_a_validation_error_is_the_callers_body_naming_the_field() -> None:
    status, got, _ = body(from_exception(ValidationError("visitor.id", "required"), "p"))
    assert status == 422
    assert got["error"] == {"type": "invalid_request", "message": "invalid request body: visitor.id: required",
                            "path": "visitor.id"}  # no plugin_id: the caller's mistake
    assert body(invalid_body(ValidationError("", "expected an object")))[1]["error"]["path"] == "body"


def test_route_fields_come_first_and_the_message_can_be_the_routes() -> None:
    exc = ManifestNotAllowed("/p/plugin.yml", "runtime.command", "outside the plugin directory")
    status, got, _ = body(from_exception(exc, path="path"))
    assert status == 403
    assert list(got["error"]) == ["type", "message", "path", "field", "file"]
    assert got["error"]["field"] == "runtime.command" and got["error"]["file"] == "/p/plugin.yml"
    assert body(from_exception(SourceNotAllowed("nope"), path="path"))[1]["error"]["setting"] == "install_sources"
    status, got, _ = body(from_exception(SupervisorError("stopping"), "p", message="cannot start 'p': stopping"))
    assert (status, got["detail"], got["error"]["plugin_id"]) == (503, "cannot start 'p': stopping", "p")
    assert body(from_exception(UnknownPlugin("p")))[0] == 404
    assert body(from_exception(InstallError("exists")))[0] == 409


def test_failures_no_route_answers_are_re_raised() -> None:
    for exc in (RegistrationRefused(-32001, "bad token"), KeyError("x")):
        with pytest.raises(type(exc)):
            from_exception(exc)
    api = ApiError(418, "teapot", "short and stout")
    assert from_exception(api) is api


def test_every_class_of_the_tree_has_its_own_kind_and_the_fan_out_names() -> None:
    def tree(cls: type[HostError]) -> list[type[HostError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in tree(sub))]

    import tgo_host.cli  # noqa: F401 - every module defining a class of the tree

    classes = tree(HostError)
    assert len(classes) >= 30
    for cls in classes:
        assert cls.kind and cls.kind.islower(), cls
        assert cls.status_hint is None or 400 <= cls.status_hint < 600, cls
    outcomes = {cls.__name__: cls.outcome for cls in classes if issubclass(cls, RpcFailure)}
    assert outcomes == {"RpcFailure": "disconnected", "ConnectionLost": "disconnected", "RequestTimeout": "timeout",
                        "RemoteError": "plugin_error", "InvalidResponse": "invalid_result",
                        "InvalidResult": "invalid_result", "Busy": "busy"}
