"""Screens: the layout of each view, and the actions its keys start."""
