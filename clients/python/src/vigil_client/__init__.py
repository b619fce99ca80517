"""Python client for Vigil: send inference records and labels (from pandas DataFrames or lists
of dicts), manage models and monitors, read evaluations as DataFrames, and run `vigil drift` on
two DataFrames.

    from vigil_client import Client
    vigil = Client("http://127.0.0.1:8080", token="vgl_…")
    vigil.send_records("churn", frame)
    vigil.evaluations("churn-minimal")
"""

from .client import Client
from .drift import DriftReport, drift
from .errors import VigilError

__all__ = ["Client", "DriftReport", "VigilError", "drift"]
__version__ = "0.1.0"
