"""Silent liveness on a sequence of frames: tracking, one module per cue, fusion (models/liveness/fusion.json)."""
