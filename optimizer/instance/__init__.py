"""The instance boundary: a file becomes the engine's data, or a clear message.

:mod:`.schema` (pydantic, one field at a time) -> :mod:`.checks` (rules across fields) ->
:mod:`.build` (the indexed arrays of :mod:`.data`). :mod:`.reading` reads the bytes, names
every problem by its JSON path, and expands the scenario generators (``optimizer.generators``)
before the build.
"""
