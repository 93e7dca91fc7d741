"""The app starts, answers its health check, and serves its OpenAPI document."""

from __future__ import annotations

from tests.conftest import Client


async def test_healthz_checks_the_database(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_openapi_document_lists_the_api(client: Client) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["info"]["title"] == "Knowcast"
    assert "/api/v1/rooms" in doc["paths"]
    assert "/api/v1/auth/signin" in doc["paths"]
    assert not any(path.startswith("/studio") for path in doc["paths"])


async def test_metrics_in_prometheus_text_format(client: Client) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'knowcast_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
