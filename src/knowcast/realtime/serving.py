"""How uvicorn must serve the live endpoint (measured in docs/benchmarks.md, "Fan-out").

- the sans-I/O websockets protocol: callbacks, no task per connection inside the server;
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
