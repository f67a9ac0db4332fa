"""Process-level concerns shared by every layer: signal handling that turns Ctrl-C and SIGTERM into a
clean stop (``interrupts``) and whether a recorded process is still alive (``processes``)."""
