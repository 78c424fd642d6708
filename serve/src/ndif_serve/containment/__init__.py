"""Containing a key holder's code in the process that runs it, with the kernel's own unprivileged
means: resource limits, Landlock (files and TCP) and a seccomp filter (no programs, no new
processes or sockets, no ptrace), in that order, for the rest of the process's life.

Nothing here knows of Ray, HTTP or nnsight: a runner calls :func:`contain` in the process that is
about to deserialize and run a request, after it has opened what it needs (its channel to the
replica, the model's files) and imported what the request may use.
"""

from .landlock import LandlockUnavailable, landlock_abi
from .policy import ContainmentError, Policy, contain

__all__ = ["ContainmentError", "LandlockUnavailable", "Policy", "contain", "landlock_abi"]
