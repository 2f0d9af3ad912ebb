"""The 2-D + time wave equation from a Gaussian pulse (paper Sec. 4.3): the ``wave`` command, its problem,
training, finite-difference reference and evaluation."""
