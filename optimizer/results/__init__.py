"""The result of a solve: :mod:`.file` builds the result document, writes it whole or not
at all and reads a plan back; :mod:`.summary` prints it in the terminal. The typed view of
a result file is :class:`optimizer.report.document.Result`, which the reports read.
"""
