"""KPI engine: child-order lifecycles, NBBO joins, per-fill and per-order KPIs (docs/kpis.md)."""
