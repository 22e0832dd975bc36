"""The generated FIX tables: spot checks against the QuickFIX dictionaries, and no drift."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from lpscore.fix import tags
from lpscore.fix.tags import (
    ADMIN_MSG_TYPES,
    ENUMS,
    GROUP_COUNT_TAGS,
    MSG_TYPES,
    REQUIRED_TAGS,
    TAG_NAMES,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "tools" / "gen_fix_tags.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_fix_tags", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while building classes
    spec.loader.exec_module(module)
    return module


def test_tag_names_newest_version_wins():
    assert TAG_NAMES[35] == "MsgType"
    assert TAG_NAMES[11] == "ClOrdID"
    assert TAG_NAMES[150] == "ExecType"
    assert TAG_NAMES[1128] == "ApplVerID"  # FIXT 1.1 header only
    assert TAG_NAMES[32] == "LastQty"  # "LastShares" in FIX 4.2
    assert TAG_NAMES[22] == "SecurityIDSource"  # "IDSource" in FIX 4.2
    assert len(TAG_NAMES) > 6000


def test_msg_types_union_of_versions():
    assert MSG_TYPES["8"] == "ExecutionReport"
    assert MSG_TYPES["D"] == "NewOrderSingle"
    assert MSG_TYPES["9"] == "OrderCancelReject"
    assert MSG_TYPES["AE"] == "TradeCaptureReport"
    assert MSG_TYPES["A"] == "Logon"
    assert MSG_TYPES["J"] == "AllocationInstruction"  # "Allocation" in FIX 4.2
    assert set(MSG_TYPES) == set(ENUMS[35])


def test_admin_msg_types():
    assert {"0", "1", "2", "3", "4", "5", "A"} <= ADMIN_MSG_TYPES
    assert "n" in ADMIN_MSG_TYPES  # XMLnonFIX, marked admin in FIX 4.4 and FIXT 1.1
    assert "D" not in ADMIN_MSG_TYPES
    assert "8" not in ADMIN_MSG_TYPES
    assert ADMIN_MSG_TYPES.issubset(MSG_TYPES)


def test_required_tags_new_order_single():
    # FIX 4.4: Instrument and OrderQtyData are required components, but none of their fields
    # is, so Symbol (55) and OrderQty (38) are not in the set.
    assert REQUIRED_TAGS["FIX.4.4"]["D"] == frozenset({11, 40, 54, 60})
    assert REQUIRED_TAGS["FIX.4.2"]["D"] == frozenset({11, 21, 40, 54, 55, 60})
    assert REQUIRED_TAGS["FIX.5.0SP2"]["D"] == frozenset({11, 40, 54, 60})


def test_required_tags_execution_report_and_cancel_reject():
    assert REQUIRED_TAGS["FIX.4.4"]["8"] == frozenset({6, 14, 17, 37, 39, 54, 150, 151})
    assert REQUIRED_TAGS["FIX.4.2"]["8"] == frozenset({6, 14, 17, 20, 37, 39, 54, 55, 150, 151})
    assert {11, 37, 39, 41, 434} <= REQUIRED_TAGS["FIX.4.4"]["9"]


def test_required_group_counts_its_count_tag_not_its_members():
    # NewOrderList: NoOrders (73) is a required group whose entries require ClOrdID (11).
    new_order_list = REQUIRED_TAGS["FIX.4.4"]["E"]
    assert 73 in new_order_list
    assert 11 not in new_order_list


def test_required_tags_versions_and_session_messages():
    assert set(REQUIRED_TAGS) == {"FIX.4.2", "FIX.4.4", "FIX.5.0SP2", "FIXT.1.1"}
    assert REQUIRED_TAGS["FIX.4.4"]["A"] == frozenset({98, 108})
    assert REQUIRED_TAGS["FIXT.1.1"]["A"] == frozenset({98, 108, 1137})
    assert REQUIRED_TAGS["FIX.4.4"]["0"] == frozenset()
    assert "A" not in REQUIRED_TAGS["FIX.5.0SP2"]  # session messages live in FIXT 1.1


def test_group_count_tags():
    assert 453 in GROUP_COUNT_TAGS  # NoPartyIDs
    assert 268 in GROUP_COUNT_TAGS  # NoMDEntries
    assert 73 in GROUP_COUNT_TAGS  # NoOrders
    assert 627 in GROUP_COUNT_TAGS  # NoHops, a header group
    assert 35 not in GROUP_COUNT_TAGS
    assert GROUP_COUNT_TAGS.issubset(TAG_NAMES)


def test_enums():
    assert set(ENUMS) == {35, 39, 40, 54, 59, 102, 103, 150, 373, 434}
    assert ENUMS[150]["F"] == "TRADE"
    assert ENUMS[150]["1"] == "PARTIAL_FILL"  # FIX 4.2 only, kept by the union
    assert ENUMS[39]["8"] == "REJECTED"
    assert ENUMS[54]["1"] == "BUY"
    assert ENUMS[54]["2"] == "SELL"
    assert ENUMS[40]["2"] == "LIMIT"
    assert ENUMS[59]["3"] == "IMMEDIATE_OR_CANCEL"
    assert ENUMS[102]["1"] == "UNKNOWN_ORDER"
    assert ENUMS[434]["2"] == "ORDER_CANCEL_REPLACE_REQUEST"  # "ORDER_CANCEL" before 5.0SP2
    assert ENUMS[35]["8"] == "EXECUTION_REPORT"


def test_module_exports_exactly_the_tables():
    assert sorted(tags.__all__) == [
        "ADMIN_MSG_TYPES",
        "ENUMS",
        "GROUP_COUNT_TAGS",
        "MSG_TYPES",
        "REQUIRED_TAGS",
        "TAG_NAMES",
    ]


def test_generated_module_does_not_drift(tmp_path: Path):
    generator = _load_generator()
    output = tmp_path / "tags.py"
    assert generator.main([str(generator.DEFAULT_DICT_DIR), str(output)]) == 0
    committed = REPO_ROOT / "src" / "lpscore" / "fix" / "tags.py"
    assert output.read_bytes() == committed.read_bytes(), (
        "src/lpscore/fix/tags.py differs from the generator's output; "
        "run `python tools/gen_fix_tags.py` and commit the result"
    )
