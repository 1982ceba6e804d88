"""What the serving tests share: a warehouse the pipeline builds from simulated days, the API
in a uvicorn thread on loopback, and a small JSON client."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import uvicorn

from lakehouse.serving import server
from tests.cdp import free_port


class ApiServer:
    """The app served by uvicorn in a thread on 127.0.0.1, until ``stop``, with the settings
    the API runs with (``lakehouse.serving.server.config``)."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server.config(app, "127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)

    def get(self, path: str, headers: dict[str, str] | None = None, **params):
        """(status, JSON body) of GET path?params; None values are left out, a list value
        sends the parameter once per item."""
        given = {k: v for k, v in params.items() if v is not None}
        query = urllib.parse.urlencode(given, doseq=True)
        request = urllib.request.Request(
            f"{self.url}{path}" + (f"?{query}" if query else ""), headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = response.read()
                if response.headers.get_content_type() != "application/json":
                    return response.status, body.decode()
                return response.status, json.loads(body)
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)
            except ValueError:
                return err.code, body.decode(errors="replace")

    def ok(self, path: str, **params):
        status, body = self.get(path, **params)
        assert status == 200, (path, params, body)
        return body

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def invalid_params(body) -> set[str]:
    """The query or path parameters a 422 names."""
    return {str(d["loc"][-1]) for d in body["detail"]}
