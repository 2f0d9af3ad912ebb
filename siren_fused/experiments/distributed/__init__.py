"""Data-parallel training (DistributedDataParallel): the ``fit-ddp`` command, its image signal and its
value-and-Laplacian fit."""
