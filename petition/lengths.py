"""How long each thing an organizer or a signer writes may be.

The petition's own rule, said here for the rest of petition and for the forms
(blocks/) that hold people to it. The figures live in storage/models.py because
they size the columns, and storage imports nothing of ours; this module is where
everything above storage reads them.
"""

from storage.models import (
    ADDRESSEE_MAX,
    DEMAND_MAX,
    NAME_MAX,
    SLUG_MAX,
    STATEMENT_MAX,
    TITLE_MAX,
)

__all__ = ["ADDRESSEE_MAX", "DEMAND_MAX", "NAME_MAX", "SLUG_MAX", "STATEMENT_MAX", "TITLE_MAX"]
