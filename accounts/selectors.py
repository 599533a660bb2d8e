from __future__ import annotations

from functools import cache

from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch

from accounts.models import Role, TradingAccount, User


def user_get_profile(user_id: int) -> User:
    """The user with groups and trading accounts prefetched (constant query count)."""
    return (
        User.objects.prefetch_related(
            "groups", Prefetch("trading_accounts", queryset=TradingAccount.objects.order_by("id"))
        ).get(pk=user_id)
    )


def user_is_admin(user: User) -> bool:
    """Superuser or the ``admin`` role: the one rule of "sees everyone's rows". The role as
    read with the user at authentication (:func:`user_get_for_request`) when it was, else one
    query."""
    if user.is_superuser:
        return True
    role = getattr(user, "is_admin_role", None)
    return bool(user.has_role(Role.ADMIN) if role is None else role)


def user_get_for_request(user_id: object) -> User | None:
    """The user an API token names, with what every API read asks of it, in ONE query
    (issue 13: three queries per request were a third of a list's cost):

    - ``is_admin_role``: holds the ``admin`` role (a group);
    - ``own_account_ids``: the ids of its trading accounts, ascending (PostgreSQL only;
      elsewhere it is absent and ``trading.api.selectors.own_account_ids`` reads them).

    Read at authentication, so a role change, a new account or a revocation counts from the
    next request; nothing is cached across requests.

    On PostgreSQL the statement is written out once (:func:`_request_user_sql`): the same
    query through the ORM costs 1.5 ms of Python per request to compile, the raw one 0.2 ms
    (bench/bench_api_profile.py)."""
    try:
        pk = int(str(user_id))
    except (TypeError, ValueError):
        return None
    if connection.vendor == "postgresql":
        return next(iter(User.objects.raw(_request_user_sql(), [str(Role.ADMIN), pk])), None)
    return User.objects.annotate(is_admin_role=Exists(
        User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=Role.ADMIN))
    ).filter(pk=pk).first()


@cache
def _request_user_sql() -> str:
    through = User.groups.through._meta
    user_column = through.get_field("user").column
    group_column = through.get_field("group").column
    owner_column = TradingAccount._meta.get_field("owner").column
    # Table and column names from the models' metadata, never from input; the values are
    # parameters.
    return (
        f"SELECT u.*, EXISTS (SELECT 1 FROM {through.db_table} ug "  # noqa: S608
        f"JOIN {Group._meta.db_table} g ON g.id = ug.{group_column} "
        f"WHERE ug.{user_column} = u.id AND g.name = %s) AS is_admin_role, "
        f"ARRAY (SELECT a.id FROM {TradingAccount._meta.db_table} a "
        f"WHERE a.{owner_column} = u.id ORDER BY a.id) AS own_account_ids "
        f"FROM {User._meta.db_table} u WHERE u.id = %s")
