"""MoveNet (Google, Apache-2.0): converted networks and their pure pre/post-processing.

`processing` prepares inputs and decodes outputs (numpy only); `network` runs one network on
LiteRT. Nothing is imported or loaded until used.
"""
