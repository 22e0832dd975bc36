"""Paths of the real data bundled under tests/data (see the PROVENANCE.md files there)."""

from pathlib import Path

DATA = Path(__file__).parent / "data"
FIX = DATA / "fix"
MOEX = FIX / "fix-moex-uat-pashenkogleb"
MOEX_ORDERS = MOEX / "FIX.4.4-MU9051500001-IFIX-EQ-UAT.messages.current.log"
FIXSIM = FIX / "fix-fixsim-quantifeed-joannazhx" / "FIX.09-Jan-2018.log"
FIXATIONS = FIX / "fix-fixations-samples"
DEMO_LOG = FIX / "generated" / "demo-amzn-lps.log"
AMZN_MESSAGES = DATA / "quotes" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
