"""The trader-facing REST API over accounts, positions, orders and signals (issue 13).

Thin glue: ``selectors`` (reads, scoped to the caller), ``filters`` (django-filter),
``serializers`` and ``views``; writes go through ``trading.services``.
"""
