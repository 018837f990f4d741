"""The result of a solve, and of a budget sweep.

:mod:`.file` builds the result document, writes it whole or not at all and reads a plan
back; :mod:`.document` is its typed view (:class:`~.document.Result`, what the API returns
and every report reads); :mod:`.summary` prints it in the terminal; :mod:`.frontier` solves
a budget sweep into a :class:`~.frontier.Frontier`. The reports (``optimizer.report``) only
render these.
"""
