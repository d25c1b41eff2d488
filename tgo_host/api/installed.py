"""The ``GET /plugins/installed`` list: what the gateway's ``InstalledPluginInfo`` schema expects.

:func:`installed_plugins` is the one place that builds these items. The
gateway re-validates them: ``name``, ``version``, ``status``,
``installed_at`` and ``updated_at`` (ISO-8601) are required, and
``latest_version``, ``install_type``, ``source_url`` and ``capabilities``
are read, so every item carries every key (``None`` where unknown).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..model import unstructure
from ..plugins.registry import visible_to
from .hostview import HostView


def installed_plugins(host: HostView, project_id: str | None = None) -> list[dict[str, Any]]:
    """Every plugin ``project_id`` may see that this host launches or that is connected in dev mode.

    * Launched plugins (the supervisor's, from ``plugin_dirs`` or installed
      into ``managed_plugins_dir``): ``install_type`` ``"local"``, global,
      status from the supervisor, timestamps from the manifest file.
      ``capabilities`` are those of its live registration (``[]`` while not
      registered). A plugin installed through the marketplace flow has a
      record (``host.marketplace``): its ``id`` (uuid), ``install_type``
      (``github``/``gitee``/``binary``/``local``), ``source_url``,
      ``latest_version`` and ``installed_at`` come from it, and it is bound
      to the record's project (invisible to callers scoped to another).
    * Connected dev-mode plugins (a dev token bound them to a project):
      ``install_type`` ``"dev"``, ``is_dev_mode`` true, ``status``
      ``"running"``, ``installed_at``/``updated_at`` = connection time.
      A dev plugin whose id is also a launched plugin's is listed once,
      as the launched plugin.

    Ordered by plugin id within each group, launched plugins first. Never
    raises for a plugin's missing metadata: ``version`` falls back to the
    registered version, then ``""``; a timestamp to now.
    """
    now = datetime.now(timezone.utc).isoformat()
    items: list[dict[str, Any]] = []
    supervisor = host.supervisor
    marketplace = host.marketplace
    listed: set[str] = set()
    for plugin in supervisor.plugins() if supervisor is not None else ():
        record = marketplace.records.get(plugin.id) if marketplace is not None else None
        if record is not None and project_id and record.project_id and record.project_id != project_id:
            continue
        manifest = plugin.manifest
        session = plugin.session if plugin.registered else None
        registration = session.registration if session is not None else None
        listed.add(plugin.id)
        if session is not None and session.plugin_id is not None:
            listed.add(session.plugin_id)
        items.append(
            {
                "id": plugin.id,
                "plugin_id": plugin.id,
                "name": manifest.display_name,
                "version": manifest.version or (registration.version if registration is not None else "") or "",
                "description": manifest.description,
                "author": manifest.author,
                "status": plugin.status,
                "install_type": "local",
                "source_url": manifest.source_url,
                "latest_version": None,
                "installed_at": plugin.installed_at or now,
                "updated_at": plugin.updated_at or now,
                "pid": plugin.pid,
                "last_error": plugin.last_error,
                "is_dev_mode": False,
                "capabilities": [unstructure(c) for c in session.capabilities] if session is not None else [],
            }
        )
        if record is not None:
            items[-1].update(
                id=record.id, install_type=record.install_type, source_url=record.source_url,
                latest_version=record.latest_version, installed_at=record.installed_at,
                version=items[-1]["version"] or record.version,
            )
    for session in host.registry.all_sessions():
        if not session.is_dev_mode or session.plugin_id in listed or not visible_to(session, project_id):
            continue
        registration = session.registration
        assert registration is not None  # the registry holds registered sessions only
        connected = session.connected_at.isoformat()
        items.append(
            {
                "id": session.plugin_id,
                "plugin_id": session.plugin_id,
                "name": registration.name,
                "version": registration.version or "",
                "description": registration.description,
                "author": registration.author,
                "status": "running",
                "install_type": "dev",
                "source_url": None,
                "latest_version": None,
                "installed_at": connected,
                "updated_at": connected,
                "pid": session.peer.pid,
                "last_error": None,
                "is_dev_mode": True,
                "capabilities": [unstructure(c) for c in session.capabilities],
            }
        )
    launched = len(items) - sum(1 for item in items if item["is_dev_mode"])
    items[launched:] = sorted(items[launched:], key=lambda item: item["plugin_id"])
    return items
