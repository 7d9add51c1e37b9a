"""Who may call: loopback without a token, anything else only with one; with a token,
every request but the static files carries it; CORS only for the origins named."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from automations.http import BindRefused, check_bind, is_loopback

from .harness import ROOT, _env, running_server
from .test_routes import new

DRAFT = new("Guarded")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_binds_need_no_token(host: str) -> None:
    assert is_loopback(host)
    assert check_bind(f"[{host}]:8765" if ":" in host else f"{host}:8765", None)[1] == 8765


@pytest.mark.parametrize("bind", ["0.0.0.0:8765", "[::]:8765", "192.168.1.5:80", "example.com:80"])
def test_any_other_bind_needs_a_token(bind: str) -> None:
    with pytest.raises(BindRefused, match="without a token"):
        check_bind(bind, None)
    assert check_bind(bind, "s3cret")[1] in (80, 8765)


@pytest.mark.parametrize("bind", ["8765", "127.0.0.1:", "127.0.0.1:http", ":8765", "1.2.3.4:70000"])
def test_a_malformed_bind_is_refused(bind: str) -> None:
    with pytest.raises(BindRefused):
        check_bind(bind, "token")


def test_serve_refuses_a_public_bind_without_a_token(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    done = subprocess.run(
        [sys.executable, "-m", "automations", "--db", db, "serve", "--http", "0.0.0.0:8765"],
        capture_output=True,
        text=True,
        env=_env("asyncio", {}),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "without a token" in lines[0], done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything opened


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_second_loopback_address_serves_without_a_token(tmp_path: Path, backend: str) -> None:
    with running_server(tmp_path, backend, host="127.0.0.2") as server:
        client = server.client()
        assert client.get("/automation").status_code == 200
        assert client.post("/automation", json=DRAFT, headers={"Origin": server.url}).is_success

        # Another site's page in the user's browser: its requests are sent, and refused.
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = client.post("/automation", json=DRAFT, headers=headers)
            assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert client.get("/automation", headers={"Origin": "http://evil.example"}).is_success
        port = server.url.rpartition(":")[2]
        rebound = client.get("/automation", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403  # DNS rebinding: another name for 127.0.0.2
        assert len(client.get("/automation").json()) == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_with_a_token_every_request_carries_it(tmp_path: Path, backend: str) -> None:
    token = "correct horse battery staple"
    origin = "http://console.example"
    # The token from the environment on one backend, from --token on the other.
    args = ("--cors-origin", origin) + (("--token", token) if backend == "trio" else ())
    env = {"AUTOMATIONS_TOKEN": token} if backend == "asyncio" else {}
    with running_server(tmp_path, backend, *args, token=token, env=env) as server:
        bare = httpx.get(f"{server.url}/automation")
        assert bare.status_code == 401 and bare.json()["error"] == "unauthorized"
        assert bare.headers["www-authenticate"] == "Bearer"
        for wrong in ("nope", token + "x", token[:-1], ""):
            response = server.client(token=wrong or "-").get("/automation")
            assert response.status_code == 401
        basic = httpx.get(f"{server.url}/automation", headers={"Authorization": f"Basic {token}"})
        assert basic.status_code == 401
        assert httpx.get(f"{server.url}/automation/events").status_code == 401
        assert httpx.get(f"{server.url}/openapi.json").status_code == 401

        client = server.client()
        assert client.get("/automation").status_code == 200
        assert client.get("/healthz").json()["ok"] is True
        assert httpx.get(f"{server.url}/").status_code == 200  # static: no data in it
        assert "set-cookie" not in client.get("/automation").headers

        preflight = httpx.options(
            f"{server.url}/automation",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        other = client.get("/automation", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        from_console = client.post("/automation", json=DRAFT, headers={"Origin": origin})
        assert from_console.status_code == 200
        from_elsewhere = client.post(
            "/automation", json=DRAFT, headers={"Origin": "http://evil.example"}
        )
        assert from_elsewhere.status_code == 403
        port = server.url.rpartition(":")[2]
        any_host = client.get("/automation", headers={"Host": f"automations.internal:{port}"})
        assert any_host.status_code == 200  # with a token, the token is what protects


def test_cors_is_off_unless_origins_are_named(tmp_path: Path) -> None:
    with running_server(tmp_path, "asyncio") as server:
        response = server.client().get("/automation", headers={"Origin": "http://a.example"})
        assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_address_in_use_is_one_line_and_exit_1(tmp_path: Path, backend: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bind = f"127.0.0.1:{port}"
        done = subprocess.run(
            [sys.executable, "-m", "automations", "--db", "x.db", "serve", "--http", bind],
            capture_output=True,
            text=True,
            env=_env(backend, {}),
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
