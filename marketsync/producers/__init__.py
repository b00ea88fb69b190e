"""Storefront side: publish contract v1 events to RabbitMQ (see :mod:`.publisher`)."""

from marketsync.producers.publisher import (
    PublishError,
    PublishNacked,
    StorefrontPublisher,
    Unroutable,
    redact_url,
)

__all__ = ["PublishError", "PublishNacked", "StorefrontPublisher", "Unroutable", "redact_url"]
