"""Pure functions and small model wrappers over numpy arrays: detect, align, embed, calibrate.

Nothing here knows about HTTP or encryption.
"""
