"""Operator tools run against a deployed stack: `make verify`, `make snapshot`, `make load`.

Not part of the Pulumi program: nothing here imports the Pulumi SDK, nor a components/ module that
does (components/design.py is plain data), so each tool starts in a fraction of a second and runs
anywhere the stack's outputs JSON is at hand.
"""
