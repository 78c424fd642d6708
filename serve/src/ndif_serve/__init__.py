"""The Ray Serve application that ndif-operator deploys for each NdifDeployment."""

__version__ = "0.1.0"
