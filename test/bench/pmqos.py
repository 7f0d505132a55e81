#!/usr/bin/env python3
"""pmqos.py - hold a zero CPU wakeup-latency request until killed.

While this runs, the kernel keeps idle CPUs out of idle states that take
time to leave (PM QoS through /dev/cpu_dma_latency, as tuned's
latency-performance profile does).  On a virtual machine whose vCPUs halt
when idle, waking one for every message of a client/server round trip
otherwise adds tens of microseconds to each query.  Needs root.  Prints
"held" once the request is in place; exits 1 (printing why) when it
cannot be made.
"""
import os
import signal
import struct
import sys

try:
    fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
    os.write(fd, struct.pack("i", 0))
except OSError as exc:
    print("pmqos: %s" % exc, flush=True)
    sys.exit(1)
print("held", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
