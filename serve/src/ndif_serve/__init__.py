"""The Ray Serve applications that ndif-operator deploys: a model replica for each NdifDeployment
and NDIF's API (the gateway) for each NdifCluster."""

from .execution import without_mounted_save

# anyio's typed attribute classes refuse an unannotated `save` (nnsight's `.save()` on every
# object) when they are first defined, and Serve defines them late in a replica: define them now,
# with `.save` off for the moment if something already turned it on.
with without_mounted_save():
    import anyio._backends._asyncio  # noqa: F401
    import anyio.abc  # noqa: F401

__version__ = "0.1.0"
