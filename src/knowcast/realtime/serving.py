"""How uvicorn must serve the live endpoint (measured in docs/benchmarks.md, "Fan-out").

- the live endpoint's own protocol (realtime/socket_protocol.py, handed the upgrade by web/front.py) serves
  its sockets and takes ``ws_max_size`` from here; uvicorn's sans-I/O websockets protocol (callbacks, no task
  per connection inside the server) serves any other WebSocket path;
- no permessage-deflate: its zlib contexts cost far more memory per viewer than a frame is worth, and the
  hub's frames are written to the socket uncompressed anyway;
- a small maximum message: client frames are at most protocol.MAX_CLIENT_FRAME bytes; anything much larger
  is cut off by the server before it reaches the app;
- no proxy headers read by the server (uvicorn would believe X-Forwarded-For from any local peer): the app
  reads them itself, only from KNOWCAST_TRUSTED_PROXIES (app.py).
"""

from __future__ import annotations

from typing import Any

UVICORN_WS_OPTIONS: dict[str, Any] = {
    "ws": "websockets-sansio",
    "ws_per_message_deflate": False,
    "ws_max_size": 65_536,
    "backlog": 4096,
    "proxy_headers": False,
}
