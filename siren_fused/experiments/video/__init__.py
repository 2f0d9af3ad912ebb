"""Video experiment (paper Sec. 4.1, supplement Sec. 7): the ``fit-video`` command, its clips and figures."""
