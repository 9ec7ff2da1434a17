"""An HTTP server on 127.0.0.1 for the download tests (no network here): serves files with Range
support, and can cut a transfer mid-body or ignore Range, as real hosts do."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RangeServer:
    """Serves `files` (URL path without the leading '/' -> bytes). `cuts[name]` = offsets at which
    successive responses stop (the connection closed mid-body); `ignore_range` answers every request with
    the whole file (200); `log` records (name, Range header, status) per request."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.cuts: dict[str, list[int]] = {}
        self.ignore_range = False
        self.log: list[tuple[str, str | None, int]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                data = srv.files.get(name)
                rng = self.headers.get("Range")
                if data is None:
                    srv.log.append((name, rng, 404))
                    self.send_error(404, "Not Found")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and not srv.ignore_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        srv.log.append((name, rng, 416))
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                srv.log.append((name, rng, 206 if start else 200))
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                cuts = srv.cuts.get(name)
                stop = cuts.pop(0) if cuts else len(data)
                self.wfile.write(data[start:max(start, stop)])
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
