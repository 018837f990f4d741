"""The solvers: each route takes an instance and options and returns a plan with its proof.

- :mod:`~optimizer.solvers.contract`: what a route is given and returns, and the ``Solver``
  protocol;
- :mod:`~optimizer.solvers.registry`: the solvers and methods, and the module of each route;
- :mod:`~optimizer.solvers.dispatch`: which route solves an instance (``--method auto``);
- :mod:`~optimizer.solvers.base`: what the routes share (the plan <-> columns, the status,
  bound and message of a finished solve);
- the routes: :mod:`~optimizer.solvers.extensive` (HiGHS, the whole model),
  :mod:`~optimizer.solvers.decomposition` (HiGHS, Benders), and
  :mod:`~optimizer.solvers.pyomo_shell` (CBC, GLPK, SCIP and commercial solvers via Pyomo).

The model they solve is in ``models/``, which imports nothing from here.
"""
