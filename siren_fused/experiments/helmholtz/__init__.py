"""The 2-D Helmholtz equation with a point source and a perfectly matched layer (paper Sec. 4.3): the
``helmholtz`` command, its problem, training, evaluation against the analytic solution."""
