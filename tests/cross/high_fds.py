#!/usr/bin/python3
"""high_fds.py PROGRAM ARGS...: runs PROGRAM with descriptors 3..1199 taken
(inherited, open on /dev/null), so every socket it opens gets an fd above
FD_SETSIZE (1024). A select()-based event loop cannot watch such a socket;
libstrophe's, patched to poll(), must."""
import os
import resource
import sys

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4096
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
fd = os.open("/dev/null", os.O_RDONLY)
while fd < 1200:
    os.set_inheritable(fd, True)
    fd = os.dup(fd)
os.set_inheritable(fd, True)
os.execv(sys.argv[1], sys.argv[1:])
