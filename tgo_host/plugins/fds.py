"""File descriptors: raise the soft limit at start, and size the plugin connection limit to fit in it.

Every plugin connection holds one fd, and so does every HTTP connection,
launched plugin (two output pipes and a pidfd), log file and listener. With
the common soft limit of 1,024 and ``max_connections`` 1,024, plugin
connections alone could take them all: ``accept`` fails, HTTP stops
answering and crashed plugins cannot be restarted. So the host raises its
soft ``RLIMIT_NOFILE`` to the hard limit (:func:`raise_fd_limit`), then lowers
``max_connections`` to what is left once a reserve is set aside
(:func:`connection_budget`).
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("tgo_host")

BASE_RESERVE = 64  # epoll, listeners, logs, the state file, /dev/null at spawn, a margin
FDS_PER_LAUNCHED_PLUGIN = 4  # stdout and stderr pipes, a pidfd, one while spawning
MIN_CONNECTIONS = 16


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return the soft limit now in force.

    A failure (a sandbox refusing it) leaves the limit as it was, with a warning.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            log.info("raised the open file limit from %d to %d", soft, target)
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open file limit from %d to %d: %s", soft, target, exc)
    return soft


def http_reserve(fd_limit: int) -> int:
    """Fds kept for HTTP connections: an eighth of the limit, at least 64."""
    return max(64, fd_limit // 8)


def connection_budget(configured: int, fd_limit: int, *, pending: int, launched: int) -> int:
    """The ``max_connections`` that fits in ``fd_limit``: ``configured`` or less, never below 16.

    ``pending``: the unregistered connections the listeners' pools may hold;
    ``launched``: plugins the supervisor starts.
    """
    reserve = BASE_RESERVE + http_reserve(fd_limit) + FDS_PER_LAUNCHED_PLUGIN * launched + pending
    fits = max(fd_limit - reserve, MIN_CONNECTIONS)
    if fits < configured:
        log.warning(
            "max_connections lowered from %d to %d: the open file limit is %d (reserved: %d for HTTP, %d for %d "
            "launched plugins, %d for connections waiting to register, %d for the host)",
            configured, fits, fd_limit, http_reserve(fd_limit), FDS_PER_LAUNCHED_PLUGIN * launched, launched,
            pending, BASE_RESERVE,
        )
        return fits
    return configured
