"""The OKX simulator: a generated account history served over loopback HTTP like OKX v5.

``generator`` builds the history (``generate_history``, ``History``, ``SimAccount``,
``DEMO_CREDENTIALS``); ``server`` serves it (``Simulator``, ``Fault``, ``run_simulator``).
"""

from okx_journal.simulator.generator import (
    DEMO_CREDENTIALS,
    History,
    SimAccount,
    generate_history,
    load_history,
)
from okx_journal.simulator.server import Fault, Simulator, run_simulator

__all__ = [
    "DEMO_CREDENTIALS",
    "Fault",
    "History",
    "SimAccount",
    "Simulator",
    "generate_history",
    "load_history",
    "run_simulator",
]
