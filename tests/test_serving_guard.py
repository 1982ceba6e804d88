"""The API's guard, without a warehouse (no Spark): parameters checked before any table is
read, the token, the headers every answer carries, oversized requests, and the server's exit
codes at start-up."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from lakehouse.config import load_project
from lakehouse.serving import __main__ as serve_main
from lakehouse.serving import security
from lakehouse.serving.app import create_app
from lakehouse.serving.queries import DERIVED, SERVED_TABLES
from lakehouse.serving.snapshot import GoldReader
from tests.conftest import CONF
from tests.serving_support import ApiServer, invalid_params

SECRET = "a-test-token-0123"


@pytest.fixture(scope="module")
def empty_project(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKEHOUSE_ROOT", str(tmp_path_factory.mktemp("empty") / "warehouse"))
        env.delenv("LAKEHOUSE_LANDING", raising=False)
        yield load_project(CONF)


@pytest.fixture(scope="module")
def api(empty_project):
    server = ApiServer(create_app(GoldReader(empty_project, SERVED_TABLES, derived=DERIVED)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(empty_project):
    server = ApiServer(
        create_app(GoldReader(empty_project, SERVED_TABLES, derived=DERIVED), token=SECRET)
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("path", "params", "named", "says"),
    [
        ("/api/sales/trend", {"Grain": "month"}, "Grain", "not a parameter of this endpoint"),
        ("/api/sales/trend", {"from": ["2026-03-01", "2026-03-02"]}, "from", "given 2 times"),
        ("/api/sales/trend", {"from": "2026-03-01T00:00:00"}, "from", "YYYY-MM-DD"),
        ("/api/sales/trend", {"from": "1772323200"}, "from", "YYYY-MM-DD"),
        ("/api/sales/trend", {"to": "2026-02-30"}, "to", "not a day of the calendar"),
        ("/api/sales/trend", {"to": "20260301"}, "to", "YYYY-MM-DD"),
        ("/api/sales/year-to-date", {"as_of": "2026-3-1"}, "as_of", "YYYY-MM-DD"),
        ("/api/brands/ranking", {"weeks": "4.0"}, "weeks", "whole number"),
        ("/api/brands/ranking", {"weeks": "+4"}, "weeks", "whole number"),
        ("/api/brands/ranking", {"weeks": "5"}, "weeks", "one of 4, 12, 24, 52"),
        ("/api/brands/ranking", {"offset": str(2**63)}, "offset", "less than or equal"),
        ("/api/brands/ranking", {"offset": "1e22"}, "offset", "whole number"),
        ("/api/brands/ranking", {"limit": "1001"}, "limit", "less than or equal"),
        ("/api/products/P1/bought-with", {"offset": "99999999999999999999"}, "offset", "whole"),
        ("/api/customers-by-period", {"period": "week"}, "period", ""),
        ("/api/about", {"x": "1"}, "x", "it takes: none"),
    ],
)
def test_a_bad_parameter_is_a_422_that_names_it(api, path, params, named, says):
    status, body = api.get(path, **params)
    assert status == 422 and invalid_params(body) == {named}, body
    assert says in body["detail"][0]["msg"]


def test_every_answer_carries_the_security_headers(api):
    for path, status in [("/", 200), ("/api/about", 200), ("/api/nothing", 404), ("/docs", 200)]:
        try:
            with urllib.request.urlopen(f"{api.url}{path}") as r:
                got, headers = r.status, r.headers
        except urllib.error.HTTPError as err:
            got, headers = err.code, err.headers
        assert got == status, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == ("no-store" if path.startswith("/api") else "no-cache")
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp or path == "/docs"  # Swagger UI's own styles
        assert headers["server"] is None  # no server banner


def test_the_bearer_scheme_is_case_insensitive(guarded):
    assert guarded.get("/api/about")[0] == 401
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert guarded.get("/api/about", headers={"Authorization": f"{scheme} {SECRET}"})[0] == 200
    for wrong in (f"Basic {SECRET}", f"Bearer {SECRET}x", SECRET, "Bearer"):
        status, _ = guarded.get("/api/about", headers={"Authorization": wrong})
        assert status == 401, wrong
    assert guarded.get("/")[0] == 200  # the page carries no data


def _raw(port: int, request: bytes) -> bytes:
    """Sends a request whole and reads the whole answer (a reset raises)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_oversized_requests_are_answered_not_reset(api):
    long_url = b"GET /api/about?x=" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(api.port, long_url).startswith(b"HTTP/1.1 414 ")
    big_header = b"GET /api/about HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    assert _raw(api.port, big_header).startswith(b"HTTP/1.1 431 ")
    status, body = api.get("/api/about")  # the server goes on
    assert status == 200 and body == {"currency": "EUR"}


def test_token_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv(security.TOKEN_FILE_ENV, raising=False)
    monkeypatch.setenv(security.TOKEN_ENV, f"  {SECRET}\n")
    assert security.api_token() == SECRET  # trimmed
    monkeypatch.setenv(security.TOKEN_ENV, "   ")
    with pytest.raises(security.TokenError, match=r"\$LAKEHOUSE_API_TOKEN is blank"):
        security.api_token()
    monkeypatch.delenv(security.TOKEN_ENV)
    file = tmp_path / "token"
    file.write_text(f"{SECRET}\n")
    monkeypatch.setenv(security.TOKEN_FILE_ENV, str(file))
    assert security.api_token() == SECRET
    monkeypatch.setenv(security.TOKEN_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(security.TokenError, match=r"names .*missing, which cannot be read"):
        security.api_token()


@pytest.fixture
def serve(empty_project, monkeypatch, capsys):
    """main() with the configuration of an empty warehouse: (exit code, stdout, stderr)."""
    monkeypatch.setenv("LAKEHOUSE_ROOT", empty_project.root)
    monkeypatch.delenv(security.TOKEN_ENV, raising=False)
    monkeypatch.delenv(security.TOKEN_FILE_ENV, raising=False)

    def run(*args: str):
        try:
            code = serve_main.main(["--conf", str(CONF), *args])
        except SystemExit as stop:  # argparse's usage errors
            code = stop.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_start_up_failures_have_their_own_exit_codes(serve, monkeypatch, tmp_path):
    code, out, err = serve("--port", "70000")
    assert code == 2 and "must be a TCP port, 1-65535 (got '70000')" in err
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code, out, err = serve("--port", port)
    assert code == serve_main.EXIT_CANNOT_LISTEN == 5
    assert f"cannot listen on 127.0.0.1:{port}" in err and "serve: http" not in out
    code, out, err = serve("--host", "0.0.0.0", "--port", "1")
    assert code == 2 and "refusing to bind 0.0.0.0 without a bearer token" in err
    monkeypatch.setenv(security.TOKEN_ENV, " ")
    code, out, err = serve("--host", "0.0.0.0", "--port", "1")
    assert code == 2 and "is blank" in err
    monkeypatch.delenv(security.TOKEN_ENV)
    monkeypatch.setenv(security.TOKEN_FILE_ENV, str(tmp_path / "nowhere"))
    code, out, err = serve("--port", "1")
    assert code == 2 and "cannot be read: No such file or directory" in err
    assert "Traceback" not in err
