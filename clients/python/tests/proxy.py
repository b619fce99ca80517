"""An HTTP proxy in front of the daemon that misbehaves on purpose: it can answer a request
with a given status before the daemon sees it, or forward it and then drop the answer (the
daemon acted, the client never heard), so the client's retries are tested against the real
daemon's idempotency."""

from __future__ import annotations

import http.server
import threading
from collections import deque
from typing import Deque, List, Tuple

import requests


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        # What to do with the next requests, in order: ("status", code) answers with that
        # status and `Retry-After: 0`; ("drop", 0) forwards and then closes without answering.
        self.plan: Deque[Tuple[str, int]] = deque()
        self.seen: List[Tuple[str, str]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append((self.command, self.path))
                step = proxy.plan.popleft() if proxy.plan else ("forward", 0)
                if step[0] == "status":
                    payload = b'{"error": {"code": "unavailable", "message": "try again"}}'
                    self.send_response(step[1])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=60
                )
                if step[0] == "drop":
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
