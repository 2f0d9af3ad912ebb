"""Signed distance functions from scans (paper Sec. 4.2): the ``fit-sdf`` command, its data, loss, training,
meshing, metrics and rendering."""
