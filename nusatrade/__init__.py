"""NusaTrade project package.

The Celery app is loaded by ``NusaTradeConfig.ready()`` (Django processes) and by
``celery -A nusatrade`` (workers), not here: importing a pure module such as
``nusatrade.errors`` must not drag Django in.
"""
