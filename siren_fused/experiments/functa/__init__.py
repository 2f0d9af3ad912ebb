"""``siren-fused functa``: functa-style meta-learned modulated SIRENs on images."""
