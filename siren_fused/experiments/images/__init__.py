"""Image experiments (paper Fig. 1 and 3): the ``demo``, ``fit-image``, ``poisson`` and ``compose`` commands,
their image data, training and figures."""
