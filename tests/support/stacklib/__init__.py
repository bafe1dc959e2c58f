"""The stack launcher behind tests/support/muster_stack.py, in parts."""
