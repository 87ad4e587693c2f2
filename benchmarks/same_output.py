"""Same output whichever way a file arrives: a gzip stream, bytes in memory, or an HTTP body
streamed by httpx (served gzip-encoded by a local ``http.server``, decoded by httpx chunk by
chunk). The three parses run in lockstep and are compared record by record, so memory stays
flat however big the file is."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from itertools import zip_longest
from pathlib import Path

import httpx

from litwatch.parse.pubmed_xml import parse_pubmed_xml


class _GzipFileHandler(http.server.BaseHTTPRequestHandler):
    path_to_serve: Path

    def do_GET(self) -> None:
        body = self.path_to_serve.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def compare(gz_path: Path) -> dict:
    handler = type("Handler", (_GzipFileHandler,), {"path_to_serve": gz_path})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        with gzip.open(gz_path, "rb") as stream, httpx.Client(timeout=60) as client:
            data = gzip.decompress(gz_path.read_bytes())
            url = f"http://127.0.0.1:{server.server_address[1]}/{gz_path.name}"
            with client.stream("GET", url) as response:
                response.raise_for_status()
                ways = (
                    parse_pubmed_xml(stream),
                    parse_pubmed_xml(data),
                    parse_pubmed_xml(response.iter_bytes()),
                )
                records = differing = 0
                first_difference = None
                for from_gzip, from_bytes, from_http in zip_longest(*ways):
                    records += 1
                    if not from_gzip == from_bytes == from_http:
                        differing += 1
                        if first_difference is None:
                            first_difference = records
    finally:
        server.shutdown()
        server.server_close()
    return {
        "records": records,
        "differing_records": differing,
        "first_difference_at": first_difference,
        "ways": ["gzip stream", "bytes", "HTTP body (httpx, Content-Encoding: gzip)"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def run(files: dict[str, Path]) -> dict:
    return {"files": {name: compare(path) for name, path in files.items()}}
