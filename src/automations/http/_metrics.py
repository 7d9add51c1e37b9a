"""`GET /metrics`: the runtime's Prometheus metrics, in the text format, behind the
same token as every other route (Prometheus scrapes with `authorization:
credentials`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from ..telemetry import Metrics

__all__ = ["metrics_route"]


def metrics_route(metrics: Metrics) -> Route:
    from ..telemetry import CONTENT_TYPE

    async def exposition(request: Request) -> Response:
        return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    return Route("/metrics", exposition, methods=["GET"])
