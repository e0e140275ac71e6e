"""A tenant's whole data at once: its export (data portability) and its deletion (erasure).

``catalog`` finds the tenant-owned tables in the database itself (every table with a
``tenant_id`` column), so a table added later is exported and deleted without anyone having
to remember it here; ``export`` writes them to one archive, ``deletion`` removes them.
"""
