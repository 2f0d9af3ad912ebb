"""``siren-fused kdv``: the Korteweg-de Vries equation, a third-order PDE, against its single-soliton solution."""
