"""Hypernetwork experiment (paper Sec. 4.4, Fig. 6): the ``hypernet`` command, a set encoder and hypernetwork that
predict a whole SIREN from a few pixels of an image, its data, training, evaluation and figure."""
