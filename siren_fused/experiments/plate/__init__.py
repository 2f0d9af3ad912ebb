"""``siren-fused plate``: the biharmonic (Kirchhoff plate) equation, a fourth-order PDE, against an exact solution."""
