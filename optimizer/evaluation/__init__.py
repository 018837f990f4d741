"""What a plan does, measured without the solver that chose it.

:mod:`.evaluate` re-checks every scenario by maximum flow (networkx); :mod:`.recourse` solves
each scenario's recourse exactly (the decomposition's oracle, the ceilings);
:mod:`.reachability` says which facility can serve which zone; :mod:`.recovery`,
:mod:`.restoration` and :mod:`.restoration_mip` schedule the repairs; :mod:`.stress` finds
the roads whose loss hurts most; :mod:`.out_of_sample` judges a plan on other scenarios.
"""
