"""Audio experiment (paper Sec. 4.1): the ``fit-audio`` command, its recordings and figure."""
