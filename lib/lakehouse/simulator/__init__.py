"""Simulated operational systems of the omnichannel retailer: daily exports with known defects.

from lakehouse.simulator import Simulator, load_preset
sim = Simulator(spark, load_preset("tiny"), landing="/abs/landing", seed=42)
manifest = sim.simulate_day(0)      # or a date: "2026-03-01"
sim.simulate(days=7)
"""

from lakehouse.simulator.presets import Settings, load_preset
from lakehouse.simulator.simulator import Simulator

__all__ = ["Settings", "Simulator", "load_preset"]
