"""Facebook Messenger: `page` webhooks in, the Send API at `/{pageId}/messages` out."""

from __future__ import annotations

from controller.manifests.limits import LIMITS
from controller.manifests.models import Account

from .meta import MessagingAdapter


class MessengerAdapter(MessagingAdapter):
    name = "messenger"
    object_name = "page"
    limits = LIMITS["messenger"]
    send_media = frozenset({"image", "video", "audio", "document"})

    def endpoint(self, account: Account) -> str:
        return f"{self.api_base(account)}/{self.graph_version}/{account.spec.messenger.pageId}/messages"  # type: ignore[union-attr]
