"""The work-item part of a template pack: kinds of work and the facts their lifecycle yields.

A kind says which steps its items go through (a feasibility answer, a promised date, a
defect's link to the item it was found in, a complaint's cause) and which facts each item
derives for the indicators. Measures and subjects are a closed vocabulary the work-item
service knows how to compute; a pack picks them, so a new industry needs a file, not code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.templates.indicators import CODE, FactKind, Text

# What a derived fact's value is, and when it exists:
#   hours_to_answer       hours from requested to the feasibility answer (when answered)
#   hours_to_deliver      hours from requested to delivered (a complaint fixed, homework
#                         graded, a question answered)
#   cycle_days            days from started to delivered; denominator the size (points) times
#                         the person's share
#   on_time               1 when delivered by the end of the promised day, else 0 (denominator
#                         1), dated the promised day (late) or the delivery (early); none for
#                         an item late for a cause other than `rd`
#   linked_defects        defects linked to the item, once delivered (re-derived as they come)
#   found_in_production   1 for a defect found in production, 0 in test (when linked);
#                         denominator 1
#   one                   1 per item, when it is requested
Measure = Literal[
    "hours_to_answer",
    "hours_to_deliver",
    "cycle_days",
    "on_time",
    "linked_defects",
    "found_in_production",
    "one",
]
# Whom a derived fact is about: the person who answered, the item's assignees, or the
# assignees of the item a defect is linked to.
Subject = Literal["answerer", "assignees", "linked_assignees"]
# Why an item was late, or what caused a complaint.
Cause = Literal["rd", "sales_overpromise", "customer_change", "external"]
CAUSES: tuple[str, ...] = ("rd", "sales_overpromise", "customer_change", "external")
Requester = Literal["sales", "customer", "student", "colleague"]


class FactDerivation(BaseModel):
    """One fact an item of a kind derives, about whom, and (optionally) only for causes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fact_kind: str = Field(pattern=CODE)
    measure: Measure
    about: Subject
    # Only items whose cause is one of these derive it (complaints caused by R&D).
    causes: tuple[Cause, ...] = ()


class WorkItemKind(BaseModel):
    """A kind of work item: its name, who asks for it, the steps it has, the facts it yields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: Text
    requester: Requester
    # R&D answers whether it can be done (feasible / not feasible / needs change).
    feasibility: bool = False
    # A date is promised to the requester; late items need a delay cause when closed.
    promise: bool = False
    # A defect, found in test or in production, linked to the item it was found in.
    defect: bool = False
    # Carries a cause (a complaint).
    caused: bool = False
    facts: tuple[FactDerivation, ...] = ()

    @model_validator(mode="after")
    def _steps_exist(self) -> WorkItemKind:
        needs = {
            "hours_to_answer": ("feasibility", self.feasibility),
            "on_time": ("promise", self.promise),
            "found_in_production": ("defect", self.defect),
        }
        for derivation in self.facts:
            step = needs.get(derivation.measure)
            if step is not None and not step[1]:
                raise ValueError(
                    f"work item kind {self.code}: measure {derivation.measure} needs "
                    f"{step[0]} = true"
                )
            if derivation.about == "answerer" and not self.feasibility:
                raise ValueError(
                    f"work item kind {self.code}: facts about the answerer need feasibility"
                )
            if derivation.about == "linked_assignees" and not self.defect:
                raise ValueError(
                    f"work item kind {self.code}: facts about linked assignees need defect"
                )
            if derivation.causes and not self.caused:
                raise ValueError(f"work item kind {self.code}: causes need caused = true")
        return self


def check_work_item_kinds(
    kinds: tuple[WorkItemKind, ...], fact_kinds: tuple[FactKind, ...]
) -> None:
    """Raise ``ValueError`` for repeated codes and derivations of unknown fact kinds."""
    codes = [kind.code for kind in kinds]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    problems = [f"work_item_kinds: repeated {repeated}"] if repeated else []
    known = {kind.code for kind in fact_kinds}
    for kind in kinds:
        for derivation in kind.facts:
            if derivation.fact_kind not in known:
                problems.append(
                    f"work item kind {kind.code}: unknown fact kind {derivation.fact_kind!r}"
                )
    if problems:
        raise ValueError("; ".join(problems))
