"""The drill world's Sentry: fed by the real sentry-sdk, read through Sentry's issues API."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import sentry_sdk
from world_helpers import (
    ORG_ISSUE,
    ORG_ISSUE_EVENT,
    ORG_ISSUES,
    parse_link,
    read_token,
    response_examples,
    response_schema,
)

from cockpit.timeutil import parse_iso
from cockpit.world.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "world", bad_deploy_after=None, traffic=False) as running:
        yield running


@pytest.fixture
def api(world: World) -> Iterator[httpx.Client]:
    assert world.urls is not None
    token = read_token(world.token_file)
    with httpx.Client(
        base_url=world.urls.sentry, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        yield client


def issues_url() -> str:
    return "/api/0/organizations/files/issues/"


def hit_report(world: World, *users: str) -> None:
    assert world.urls is not None
    for user in users:
        answer = httpx.get(world.urls.report, headers={"X-Files-User": user}, timeout=10)
        assert answer.status_code == 500
    world.flush_sentry()


def raise_and_capture(client: sentry_sdk.Client, error: Exception) -> None:
    try:
        raise error
    except Exception as exc:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(client)
            sentry_sdk.capture_exception(exc)


def other_issues(world: World, errors: list[Exception]) -> None:
    """Events from a second service sharing the project, sent by a real SDK client."""
    assert world.urls is not None
    client = sentry_sdk.Client(
        dsn=world.urls.sentry_dsn,
        environment="drill",
        default_integrations=False,
        auto_enabling_integrations=False,
        enable_backpressure_handling=False,
    )
    try:
        for error in errors:
            raise_and_capture(client, error)
    finally:
        client.close(timeout=5)


def test_report_errors_become_one_issue(world: World, api: httpx.Client) -> None:
    hit_report(world, "acme", "globex", "acme")
    answer = api.get(issues_url(), params={"project": "files-web", "environment": "drill"})
    assert answer.status_code == 200
    (issue,) = answer.json()
    assert issue["title"] == "ValueError: invalid date range in report filter"
    assert issue["count"] == "3"
    assert issue["userCount"] == 2
    assert issue["shortId"] == "FILES-WEB-1"
    assert issue["culprit"] == "/report"
    assert issue["level"] == "error"
    assert issue["status"] == "unresolved"
    assert issue["project"] == {
        "id": "2",
        "name": "files-web",
        "slug": "files-web",
        "platform": "python",
    }
    assert issue["permalink"].startswith(world.sentry.base_url + "/")
    assert parse_iso(issue["firstSeen"]) <= parse_iso(issue["lastSeen"])
    assert sum(count for _, count in issue["stats"]["24h"]) == 3
    jsonschema.validate(issue, response_schema(ORG_ISSUES, item=True))


def test_the_session_bug_never_reaches_sentry(world: World, api: httpx.Client) -> None:
    from world_helpers import simultaneous_gets

    assert world.urls is not None
    world.deploy_bad()
    assert 503 in simultaneous_gets(world.urls.session, 3)
    world.flush_sentry()
    assert api.get(issues_url()).json() == []
    assert world.sentry.events_received == 0


def test_the_api_wants_the_token(world: World) -> None:
    assert world.urls is not None
    url = world.urls.sentry + issues_url()
    missing = httpx.get(url, timeout=10)
    assert missing.status_code == 401
    assert "detail" in missing.json()
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert "detail" in wrong.json()
    assert "not-the-token" not in wrong.text
    assert world.token_file.stat().st_mode & 0o777 == 0o600


def test_link_pagination_walks_every_issue_once(world: World, api: httpx.Client) -> None:
    hit_report(world, "acme")
    other_issues(
        world,
        [KeyError("thumbnail cache miss"), TimeoutError("upstream timed out"), OSError("disk")],
    )
    schema = response_schema(ORG_ISSUES, item=True)
    seen: list[str] = []
    page = api.get(issues_url(), params={"project": "files-web", "limit": 1})
    first = parse_link(page.headers["Link"])
    assert first["previous"][1:] == (False, "0:0:1")
    assert first["next"][1:] == (True, "0:1:0")
    assert page.headers["X-Hits"] == "4"
    pages = 0
    while True:
        assert page.status_code == 200
        body = page.json()
        assert len(body) == 1
        for issue in body:
            jsonschema.validate(issue, schema)
        seen.extend(issue["id"] for issue in body)
        pages += 1
        links = parse_link(page.headers["Link"])
        url, more, cursor = links["next"]
        assert f"cursor={cursor}" in url and "limit=1" in url and "project=files-web" in url
        if not more:
            break
        page = api.get(url)
    assert pages == 4
    assert len(set(seen)) == 4
    assert links["previous"][1] is True  # the last page can go back

    everything = api.get(issues_url(), params={"limit": 100, "sort": "new"}).json()
    assert sorted(i["id"] for i in everything) == sorted(seen)
    assert len({i["shortId"] for i in everything}) == 4


def test_exact_link_header_shape(world: World, api: httpx.Client) -> None:
    hit_report(world, "acme")
    other_issues(world, [KeyError("a")])
    page = api.get(issues_url(), params={"limit": 1})
    base = world.sentry.base_url + issues_url()
    assert page.headers["Link"] == (
        f'<{base}?limit=1&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{base}?limit=1&cursor=0:1:0>; rel="next"; results="true"; cursor="0:1:0"'
    )


def test_the_official_example_passes_the_converted_schema() -> None:
    """The schema conversion used above neither rejects Sentry's own example nor allows junk."""
    schema = response_schema(ORG_ISSUES)
    for example in response_examples(ORG_ISSUES):
        jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{**response_examples(ORG_ISSUES)[0][0], "count": 150}], schema)


def test_issue_detail_and_latest_event(world: World, api: httpx.Client) -> None:
    hit_report(world, "acme")
    (issue,) = api.get(issues_url()).json()
    detail = api.get(f"{issues_url()}{issue['id']}/")
    assert detail.status_code == 200
    jsonschema.validate(detail.json(), response_schema(ORG_ISSUE))

    event = api.get(f"{issues_url()}{issue['id']}/events/latest/")
    assert event.status_code == 200
    body = event.json()
    jsonschema.validate(body, response_schema(ORG_ISSUE_EVENT))
    assert body["groupID"] == issue["id"]
    (entry,) = [e for e in body["entries"] if e["type"] == "exception"]
    (value,) = entry["data"]["values"]
    assert value["type"] == "ValueError"
    frames = value["stacktrace"]["frames"]
    assert frames[-1]["function"] == "_check_range"
    assert {"filename", "absPath", "module", "function", "lineNo", "inApp", "context"} <= set(
        frames[-1]
    )
    assert frames[-1]["inApp"] is True
    assert {"key": "release", "value": f"files-web@{world.good_version}"} in body["tags"]
    by_id = api.get(f"{issues_url()}{issue['id']}/events/{body['eventID']}/")
    assert by_id.json()["eventID"] == body["eventID"]
    assert api.get(f"{issues_url()}999/").status_code == 404
    assert api.get(f"{issues_url()}{issue['id']}/events/feedface/").status_code == 404


def test_filters_and_bad_parameters(world: World, api: httpx.Client) -> None:
    hit_report(world, "acme", "globex")
    other_issues(world, [KeyError("thumbnail cache miss")])
    titles = {i["title"] for i in api.get(issues_url(), params={"query": ""}).json()}
    assert titles == {
        "ValueError: invalid date range in report filter",
        "KeyError: 'thumbnail cache miss'",
    }
    assert api.get(issues_url(), params={"query": "is:resolved"}).json() == []
    found = api.get(issues_url(), params={"query": "is:unresolved thumbnail"}).json()
    assert [i["title"] for i in found] == ["KeyError: 'thumbnail cache miss'"]
    frequent = api.get(issues_url(), params={"sort": "freq"}).json()
    assert [i["count"] for i in frequent] == ["2", "1"]
    assert api.get(issues_url(), params={"environment": "production"}).json() == []
    assert len(api.get(issues_url(), params={"statsPeriod": "1h"}).json()) == 2
    assert len(api.get(issues_url(), params={"project": "2"}).json()) == 2
    assert len(api.get(issues_url(), params={"project": "-1"}).json()) == 2
    assert api.get("/api/0/projects/files/files-web/issues/").status_code == 200
    assert api.get("/api/0/organizations/files/projects/").json()[0]["slug"] == "files-web"

    for params, status in (
        ({"statsPeriod": "soon"}, 400),
        ({"sort": "sideways"}, 400),
        ({"limit": "0"}, 400),
        ({"cursor": "garbage"}, 400),
        ({"query": "is:sleeping"}, 400),
        ({"project": "someone-elses"}, 403),
    ):
        answer = api.get(issues_url(), params=params)
        assert answer.status_code == status, params
        assert "detail" in answer.json()
    assert api.get("/api/0/organizations/other-org/issues/").status_code == 404


def envelope(event: dict[str, Any]) -> bytes:
    header = json.dumps({"event_id": event["event_id"]})
    payload = json.dumps(event).encode()
    item = json.dumps({"type": "event", "length": len(payload)})
    return header.encode() + b"\n" + item.encode() + b"\n" + payload + b"\n"


def test_ingest_checks_key_project_and_encoding(world: World, api: httpx.Client) -> None:
    key = world.sentry.public_key
    base = world.sentry.base_url
    event = {
        "event_id": "0123456789abcdef0123456789abcdef",
        "message": "disk almost full",
        "level": "warning",
        "environment": "drill",
    }
    body = gzip.compress(envelope(event))
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    gz = {"Content-Encoding": "gzip"}

    ok = httpx.post(f"{base}/api/2/envelope/", content=body, headers={**auth, **gz}, timeout=10)
    assert ok.status_code == 200
    assert ok.json() == {"id": event["event_id"]}

    wrong_key = {"X-Sentry-Auth": "Sentry sentry_key=nope, sentry_version=7"}
    rejected = [
        httpx.post(f"{base}/api/2/envelope/", content=body, headers={**wrong_key, **gz}),
        httpx.post(f"{base}/api/2/envelope/", content=body, headers=gz),
        httpx.post(f"{base}/api/9/envelope/", content=body, headers={**auth, **gz}),
        httpx.post(f"{base}/api/2/envelope/", content=b"\x00junk", headers={**auth, **gz}),
        httpx.post(
            f"{base}/api/2/envelope/", content=body, headers={**auth, "Content-Encoding": "zstd"}
        ),
    ]
    assert [r.status_code for r in rejected] == [401, 401, 403, 400, 415]

    # The older store endpoint, a deflate body, the key in the query string.
    stored = {**event, "event_id": "f" * 32, "message": "second thing"}
    store = httpx.post(
        f"{base}/api/2/store/?sentry_key={key}",
        content=zlib.compress(json.dumps(stored).encode()),
        headers={"Content-Encoding": "deflate"},
        timeout=10,
    )
    assert store.status_code == 200
    titles = sorted(i["title"] for i in api.get(issues_url()).json())
    assert titles == ["disk almost full", "second thing"]
    warning = api.get(issues_url(), params={"query": "level:warning"}).json()
    assert len(warning) == 2
    assert all(i["type"] == "default" for i in warning)
    jsonschema.validate(warning, response_schema(ORG_ISSUES))


def test_envelopes_with_and_without_item_lengths() -> None:
    from cockpit.world.sentry.ingest import events_in, parse_envelope

    event = json.dumps({"message": "a\nb"}).encode()  # JSON keeps the newline escaped
    data = (
        b'{"event_id":"e1"}\n'
        b'{"type":"session"}\n{"sid":"x"}\n'
        b'{"type":"attachment","length":5}\nab\ncd\n'
        b'{"type":"event"}\n' + event + b"\n"
    )
    envelope = parse_envelope(data)
    assert [item.type for item in envelope.items] == ["session", "attachment", "event"]
    assert envelope.items[1].payload == b"ab\ncd"
    assert events_in(envelope) == [{"message": "a\nb", "event_id": "e1"}]
