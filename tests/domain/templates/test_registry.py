"""Template packs as data: the shipped packs load, a new industry is a new file, and a bad
file is refused with every problem named."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from domain.templates.registry import PACKS_DIR, PackError, installed_packs, load_pack


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Pack files need no database: this replaces the session's application fixture."""


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_bytes(tomli_w.dumps(document).encode())
    return path


def _enterprise() -> dict[str, Any]:
    with (PACKS_DIR / "enterprise_rd.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_shipped_packs_load_with_weights_totalling_100() -> None:
    packs = installed_packs()
    assert sorted(packs) == ["enterprise_rd", "school_teaching"]
    for pack in packs.values():
        assert sum(i.weight for i in pack.indicators) == 100
        assert {i.category for i in pack.indicators} <= {"core", "target", "auxiliary"}
    assert len(packs["enterprise_rd"].indicators) == 9
    assert packs["school_teaching"].scorecard.blend is not None


def test_a_third_industry_is_a_file(tmp_path: Path) -> None:
    # given: a customer-support pack that reuses the engine's vocabulary, no code
    document = _enterprise()
    document["pack"]["code"] = "customer_support"
    document["pack"]["name"] = {"en": "Customer support", "zh": "客户支持"}
    # when
    pack = load_pack(_write(tmp_path / "customer_support.toml", document))
    # then
    assert pack.pack.code == "customer_support"
    assert pack.indicator("response_24h") is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["indicators"][0].update(weight=30),
            "indicator weights total 110, they must total 100",
        ),
        (
            lambda d: d["indicators"][1].update(fact_kind="commits"),
            "indicator on_time_delivery: unknown fact kind 'commits'",
        ),
        (
            lambda d: d["indicators"][4].pop("limit"),
            "indicator response_24h: aggregation share_within needs a limit",
        ),
        (
            lambda d: d["indicators"][1]["target"].update(threshold=0.9),
            "higher-is-better needs threshold <= target <= stretch",
        ),
        (
            lambda d: d["rules"][0].update(indicators=["cycle_time"]),
            "rule demand_spike: indicator cycle_time has no limit to stretch",
        ),
        (
            lambda d: d["indicators"][0].update(shrink="beta"),
            "beta shrinkage is for rate or share_within, not median",
        ),
    ],
)
def test_a_bad_pack_is_refused_naming_the_problem(
    tmp_path: Path, change: Any, message: str
) -> None:
    document = _enterprise()
    change(document)
    with pytest.raises(PackError) as caught:
        load_pack(_write(tmp_path / "enterprise_rd.toml", document))
    assert message in str(caught.value)
    assert str(caught.value).startswith("enterprise_rd.toml: ")


def test_the_file_name_must_match_the_pack_code(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="must match the file name"):
        load_pack(_write(tmp_path / "other.toml", _enterprise()))


def _school() -> dict[str, Any]:
    with (PACKS_DIR / "school_teaching.toml").open("rb") as handle:
        return tomllib.load(handle)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["indicators"][0]["target"].update(bands=[70, 50]),
            "bands must be increasing pre-test cut points between 0 and 100",
        ),
        (
            lambda d: d["indicators"][3]["target"].update(baseline="band", bands=[50]),
            "a band baseline is for baseline-relative targets of normalised_gain indicators",
        ),
        (
            lambda d: d["indicators"][0]["target"].update(baseline="level"),
            'bands are for baseline = "band"',
        ),
    ],
)
def test_starting_bands_are_checked(tmp_path: Path, change: Any, message: str) -> None:
    document = _school()
    change(document)
    with pytest.raises(PackError) as caught:
        load_pack(_write(tmp_path / "school_teaching.toml", document))
    assert message in str(caught.value)
