"""Instance sources: everything that makes an instance file rather than reading one.

Each source makes a :class:`~optimizer.sources.network.RoadNetwork` (``network``) and hands
it to the one assembler (``assemble``), which adds facilities, money and reach: seeded
synthetic networks (``synthetic``), or real ones imported from TNTP files or a city's GIS
data (``importers``). What reads a file back is :mod:`optimizer.instance`.
"""
