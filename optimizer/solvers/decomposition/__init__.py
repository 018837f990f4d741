"""The decomposition route (``--method decomposition``): multi-cut Benders over the first
stage on HiGHS (the method, and the modules that share it: :mod:`.benders`), with expected
resilience and CVaR counted on curves at scale (:mod:`.curves`)."""

from optimizer.solvers.decomposition.solve import solve_decomposition, solver

__all__ = ["solve_decomposition", "solver"]
