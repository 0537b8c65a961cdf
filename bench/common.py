"""What every benchmark records about the box it ran on (imported by the bench scripts)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any


def describe_machine() -> dict[str, Any]:
    """CPU count, platform, Python, and the load average before the run starts."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_before": os.getloadavg(),
    }
