"""``resilience suite`` and ``resilience bench``: seeded instance families
(:mod:`.registry`), runs in their own processes (:mod:`.runner`, :mod:`.worker`), and what
they measure and summarise (:mod:`.metrics`, :mod:`.objectives`, :mod:`.plot`)."""
