"""DB <-> broker reconciliation (orchestration: it sits above the order-path services).

``service``: ``reconcile_account`` / ``reconcile_all`` (writes); ``selectors``: the reads
(``reconciliation_last_success`` for monitoring); ``compare``: the pure comparison. This
package's ``__init__`` imports nothing, so ``trading.models`` can register the run and item
models without a cycle.
"""
