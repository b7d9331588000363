"""The task runner a run's `execution` block asks for, and how a shard asks for a GPU.

local: Prefect's thread pool (tasks run in the flow's process). dask: prefect-dask's
DaskTaskRunner on an existing scheduler (`address`) or a LocalCluster of `workers`
processes with one thread each. ray: prefect-ray's RayTaskRunner on an existing cluster
or a local one. Only the embedding, pair-search and contamination-scoring shards go to the runner;
the other stages are cheap and run in the flow's process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pipeline.config.run_config import ExecutionConfig


def task_runner(execution: ExecutionConfig):
    if execution.runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise RuntimeError("execution.runner = 'dask' needs prefect-dask: pip install '.[dask]'") from None
        if execution.address:
            return DaskTaskRunner(address=execution.address)
        resources = {"GPU": max(1.0, execution.gpus_per_shard)} if execution.gpus_per_shard else None
        kwargs = {
            "n_workers": execution.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
        if resources:
            kwargs["resources"] = resources
        return DaskTaskRunner(cluster_kwargs=kwargs)
    if execution.runner == "ray":
        try:
            from prefect_ray import RayTaskRunner
        except ImportError:
            raise RuntimeError("execution.runner = 'ray' needs prefect-ray: pip install '.[ray]'") from None
        if execution.address:
            return RayTaskRunner(address=execution.address)
        return RayTaskRunner(init_kwargs={"num_cpus": execution.workers, "include_dashboard": False})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=execution.workers)


@contextlib.contextmanager
def shard_resources(execution: ExecutionConfig) -> Iterator[None]:
    """Around the submission of shards: ask the cluster for `gpus_per_shard` GPUs each."""
    if not execution.gpus_per_shard or execution.runner == "local":
        yield
    elif execution.runner == "dask":
        import dask

        with dask.annotate(resources={"GPU": execution.gpus_per_shard}):
            yield
    else:
        from prefect_ray.context import remote_options

        with remote_options(num_gpus=execution.gpus_per_shard):
            yield
