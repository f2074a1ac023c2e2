"""The transform engine for cloud steps: set-level plans run with DuckDB over buffered Arrow chunks.

``check_plan`` validates a ``workflows.transform_plan.TransformPlan`` against the real input
schemas before any data is read; ``PlanRun`` executes it with inputs streamed in chunk by chunk
and the output streamed out in batches; ``TransformActivities`` is the ``transform_buffered``
activity around them. Cloud only: DuckDB is in the ``cloud`` extra, never on the agent.
"""

from activities.transform_engine._activity import TransformActivities, TransformProgress
from activities.transform_engine._check import CheckedPlan, check_plan
from activities.transform_engine._run import PlanRun

__all__ = ["CheckedPlan", "PlanRun", "TransformActivities", "TransformProgress", "check_plan"]
