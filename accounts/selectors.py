from __future__ import annotations

from django.db.models import Prefetch

from accounts.models import TradingAccount, User


def user_get_profile(user_id: int) -> User:
    """The user with groups and trading accounts prefetched (constant query count)."""
    return (
        User.objects.prefetch_related(
            "groups", Prefetch("trading_accounts", queryset=TradingAccount.objects.order_by("id"))
        ).get(pk=user_id)
    )
