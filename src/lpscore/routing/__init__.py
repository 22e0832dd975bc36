"""The smart order router: a local cache of published scores, policies that allocate an order
over the eligible LPs with reasons, parent orders worked over FIX, and a journal of the
decisions (docs/routing.md)."""

from lpscore.routing.cache import CacheStatus, Entry, ScoreCache
from lpscore.routing.candidates import Candidate, candidates_of, static_candidates
from lpscore.routing.fixout import FixOrderWriter
from lpscore.routing.journal import DecisionLog, decision_record
from lpscore.routing.parent import ChildState, ParentOrder
from lpscore.routing.policies import (
    POLICIES,
    Allocation,
    Option,
    Outcome,
    Policy,
    Primary,
    Spray,
    Uniform,
)
from lpscore.routing.router import STATIC, Child, Plan, Router, RouteRequest, Skipped

__all__ = ["POLICIES", "STATIC", "Allocation", "CacheStatus", "Candidate", "Child",
           "ChildState", "DecisionLog", "Entry", "FixOrderWriter", "Option", "Outcome",
           "ParentOrder", "Plan", "Policy", "Primary", "RouteRequest", "Router", "ScoreCache",
           "Skipped", "Spray", "Uniform", "candidates_of", "decision_record",
           "static_candidates"]
