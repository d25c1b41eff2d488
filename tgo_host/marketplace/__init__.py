"""Installing plugins from URLs, GitHub and release binaries (the TGO marketplace flow).

Modules, each with one job: :mod:`.store` (what is installed, persisted),
:mod:`.sources` (URL resolution and bounded fetches), :mod:`.unpack` (safe
archive extraction), :mod:`.build` (go/python/nodejs build steps),
:mod:`.installer` (install/upgrade into the managed directory, with progress
events), :mod:`.toolsync` (announcing MCP tools to the AI service).
"""
