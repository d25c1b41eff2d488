"""The one base of every failure tgo-host raises on purpose, and the tree under it.

Each class says what it is in class attributes, so mapping a failure to an
answer is a lookup (``api/errors.from_exception``, the fan-out's and the
metrics' ``RpcFailure.outcome``), never a chain of ``isinstance`` checks whose
order matters:

* ``kind``: its stable name: ``error.type`` in an HTTP error body, the name a
  log line or a metric can use;
* ``status_hint``: the HTTP status a route answers with when the failure reaches
  it; None for failures no route answers (start-up, the wire, registration,
  the install steps that ``InstallFailed`` reports): those are bugs there, 500;
* ``retry_after``: seconds for a ``Retry-After`` header, for failures that pass.

``error_fields(plugin_id)`` adds what the failure knows to the error body
(``plugin_id``, ``path``, ``rpc_error``, …). The tree, by defining module::

    HostError                                          internal_error
    ├── wire.errors.RpcFailure                         plugin_failure              502
    │   ├── ConnectionLost                             plugin_disconnected         502
    │   ├── RequestTimeout                             plugin_timeout              504
    │   ├── RemoteError                                plugin_error                502
    │   ├── InvalidResponse                            invalid_plugin_result       502
    │   │   └── plugins.dispatch.InvalidResult         invalid_plugin_result       502
    │   └── Busy                                       plugin_busy                 503, Retry-After: 1
    ├── wire.framing.FrameTooLarge                     frame_too_large             (closes the connection)
    ├── wire.transport.PartialFrameStalled             partial_frame_stalled       (closes the connection)
    ├── wire.transport.SendBufferFull                  send_buffer_full            (closes the connection)
    ├── model.errors.ValidationError (a ValueError)    invalid_request             422
    ├── config.ConfigError                             invalid_config              (start-up: exit 2)
    ├── plugins.dispatch.PluginNotFound                plugin_not_found            404
    ├── plugins.dispatch.CapabilityMissing             capability_not_found        404
    ├── plugins.registry.DuplicatePlugin               duplicate_plugin            (register refused)
    ├── plugins.auth.RegistrationRefused               registration_refused        (register refused: its code)
    ├── plugins.listener.SocketPathError               socket_path_unusable        (start-up)
    │   └── DevListenerError                           dev_listener_unusable       (start-up)
    ├── plugins.listener.ListenerFailed (an OSError)   listener_failed             (accepting stops: exit 1)
    ├── plugins.manifest.ManifestError                 invalid_manifest            422
    │   └── plugins.confinement.ManifestNotAllowed     manifest_not_allowed        403
    ├── plugins.confinement.SourceNotAllowed           install_source_not_allowed  403
    ├── plugins.supervisor_errors.SupervisorError      supervisor_unavailable      503
    │   ├── UnknownPlugin (a LookupError)              plugin_not_managed          404
    │   └── InstallError                               install_failed              409
    │       └── InstallSourceError                     invalid_request             422
    ├── marketplace.models.ConfigError                 invalid_plugin_config       (an install step)
    ├── marketplace.sources.SourceError                fetch_failed                400
    │   └── NotFound                                   fetch_failed                400
    ├── marketplace.unpack.UnpackError                 unpack_failed               (an install step)
    ├── marketplace.build.BuildError                   build_failed                (an install step)
    ├── marketplace.installer.InstallFailed            install_failed              400
    ├── marketplace.store.StoreError                   store_error                 500
    │   └── marketplace.pgstore.StoreUnavailable       store_unavailable           503, Retry-After: 5
    ├── api.server.HttpBindError                       http_bind_failed            (start-up)
    └── api.http1.ClientGone (an OSError)              client_gone                 (the HTTP client went away)

Outside the tree on purpose: ``api.errors.ApiError`` is not a failure but the
answer itself (a route raises it with its status and type; ``from_exception``
passes it through), and the plugin SDK (``tgo_plugin``) runs in the plugin's
process with its own errors.

This module imports nothing of tgo-host: it is below ``wire`` in the import order.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HostError(Exception):
    """Base class: a failure tgo-host raises on purpose; the message says what and where."""

    kind: ClassVar[str] = "internal_error"
    status_hint: ClassVar[int | None] = None
    retry_after: ClassVar[int | None] = None

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        """The fields this failure adds to an HTTP error body; ``plugin_id`` is the plugin the call was for.

        Fields whose value is None are left out of the body.
        """
        return {"plugin_id": plugin_id}
