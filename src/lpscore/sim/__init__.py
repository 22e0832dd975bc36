"""The simulator: a market, simulated LPs that speak FIX, and the closed loop with the router
(docs/simulator.md)."""
