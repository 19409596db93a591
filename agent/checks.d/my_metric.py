"""Custom Agent check: submits ``my_metric``, a random integer in 0..1000.

The collection interval is not set here: it lives in
``conf.d/my_metric.d/conf.yaml`` as the instance's ``min_collection_interval``,
so it can change without touching this file.
"""

import random

try:  # Agent 7 / datadog-checks-base
    from datadog_checks.base import AgentCheck
except ImportError:  # pragma: no cover - legacy Agent fallback
    from checks import AgentCheck

__version__ = "1.0.0"


class MyMetricCheck(AgentCheck):
    def check(self, instance):
        self.gauge("my_metric", random.randint(0, 1000))
