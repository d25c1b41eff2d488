"""Helpers the test modules share; no test module imports another.

- :mod:`.paths`: the repository, the test plugins, the examples; short temp dirs for socket paths
- :mod:`.net`: a free loopback port
- :mod:`.waiting`: ``wait_for`` / ``wait_registered`` inside trio, ``wait_until`` from a plain thread
- :mod:`.rawclient`: ``RawClient``, a plugin's side of the socket for protocol tests
- :mod:`.launched`: launched test plugins (manifests, ``records``, ``gone``, a supervising host)
- :mod:`.market`: the stand-in marketplace server, a host that installs, the install stream
- :mod:`.console`: headless Chromium, a host in a thread, the example plugins as a stack
- :mod:`.examples`: the example plugins' ids, a visitor, starting one
- :mod:`.templates`: JSON-UI/JSON-ACTION builders and one example of every template
- :mod:`.gateway`: what the TGO gateway checks again in listed capabilities
- :mod:`.cli`, :mod:`.hostprocess`: ``python -m tgo_host`` as a command and as a running host

Fixtures defined here (``records``, ``market``, ``api``, ``browser``, ``stack``, ``page``) are
imported by name into the modules that use them. The fixtures every test can use
(``settings``, ``host``, ``plugins``, ``short_dir``, ``reap``) stay in ``conftest.py``; no module
imports from ``conftest``.
"""
