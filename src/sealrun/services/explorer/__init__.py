"""The explorer: a read-only, server-rendered web app over public chain data and the services'
public routes (``sealrun explorer``, and one more process of ``sealrun devnet up``).

Deals, tasks with their timeline, apps with fingerprints, datasets with their public release
audit, workerpools and the order book, at stable URLs (:mod:`.app`); what the pages read is
:mod:`.sources`. Details: ``docs/explorer.md``.
"""
