"""The demo company: a deterministic, realistic fake B2B SaaS business that loads through the real sync.

- ``company``: the story (accounts, plans, churn, expansion, fades), from ``(today, seed)``.
- ``rows``: the story as the rows of the data contract's files (``build_rows``).
- ``emit``: those rows written as the contract's CSV files (``write_files``).
- ``load``: ``load_demo`` (files -> ``run_sync`` -> health snapshots) and ``clear_data``.
"""
