"""What ``bench.load``'s simulated users send, and how an answer is judged.

Seven operations, each a GraphQL document of the web app's pages (api/web/static/js/pages/)
with a weight (how often a user picks it among the others) and the variables a user fills
in from the ids ``bench.load`` read once (a ``Plan``):

    login        log in again, a new session (``login``, as the web app's login page
                 does; argon2id)
    profile      a person's profile page (``node``: record, unit path, level, skills,
                 latest appraisal; the periods)
    people       a page of 50 of the people list: the first, a later one, or one unit's
    scorecard    one person's scorecard of one period, every line with its explanation
    dashboard    the R&D dashboard's panels for the 12 months up to the data's end, by
                 month, for the whole company or one unit
    matching     who can deliver a request needing one or two skills by a deadline
    fact_write   ``recordFact``: a feasibility answer, an action item or a training given

Kept apart from ``bench.load_users`` (which imports locust, and so gevent's patching) so
that ``bench.load`` and the tests can read it without importing locust.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

PAGE = 50
# Seconds a user pauses between two steps, by default: reading a page, not hammering.
THINK_S = (1.0, 3.0)

LOGIN = """mutation Login($tenant: String!, $email: String!, $password: String!) {
  login(tenant: $tenant, email: $email, password: $password) {
    __typename
    ... on LoginPayload { accessToken refreshToken expiresIn }
    ... on Error { code field message messageZh }
  }
}"""
# The queries below are those of the web app's pages (api/web/static/js/pages/).
PROFILE = """query Profile($id: ID!) {
  node(id: $id) {
    ... on Employee {
      id name employeeNumber title email hireDate status
      orgUnit { id name ancestors { id name } }
      level { code name { zh en } }
      skills { level source evaluatedOn skill { id name label { zh en } } }
      latestAppraisal { period score grade }
    }
  }
  periods { id code kind startsOn endsOn status }
}"""
PEOPLE = """query People($first: Int!, $after: String, $filter: EmployeeFilter) {
  employees(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name employeeNumber title status
      orgUnit { id name }
      level { code name { zh en } }
    } }
  }
}"""
LINE_FIELDS = """indicator name { zh en } category group status actual rawActual n facts
  baseline baselineKind baselineN baselineLow baselineHigh threshold target stretch limit
  achievement points weight effectiveWeight watch
  adjustments { rule kind inputs effect reason { zh en } }
  explanation { sentenceEn sentenceZh data }"""
SCORECARD = f"""query Scorecard($periodId: ID!, $employeeId: ID!) {{
  scorecard(periodId: $periodId, employeeId: $employeeId) {{
    id level status total percentile indicatorTotal reviewPoints reviewResponses blendedTotal
    adjustment adjustmentComment scoredWeight computedAt
    levelName {{ zh en }}
    categories {{ category name {{ zh en }} points }}
    redistributed {{ indicator name {{ zh en }} weight status }}
    explanation {{ sentenceEn sentenceZh data }}
    lines {{ {LINE_FIELDS} }}
  }}
}}"""
_GROUP = "group { key labelEn labelZh startsOn }"
DASHBOARD = f"""query RdDashboard($filter: DashboardFilterInput!) {{
  rdDashboard(filter: $filter) {{
    funnel {{ requested answeredWithin24h promised deliveredOnTime people suppressed }}
    onTime {{ {_GROUP} hits n rate people suppressed }}
    lateByCause {{ {_GROUP} late causes {{ cause labelEn labelZh count }} people suppressed }}
    complaints {{ center points {{ {_GROUP} complaints delivered rate lower upper signals
      people suppressed }} }}
    cycleTime {{ {_GROUP} n median p80 people suppressed }}
    escapedDefects {{ {_GROUP} hits n rate people suppressed }}
    scorecardDistribution {{ {_GROUP} n min q1 median q3 max mean people suppressed }}
    capabilityHeatmap {{ skillId skillNameEn skillNameZh level {{ key labelEn labelZh }}
      headCount meanLevel suppressed }}
  }}
}}"""
MATCH = """query Match($input: MatchInput!) {
  matchCandidates(input: $input) {
    confidence earliestFeasibleDate
    candidates {
      employeeId level feasible openLoad predictedCycleDays finishProbability
      proposedCycleDays proposedDefectRate
      employee { id name employeeNumber orgUnit { name } }
      skillLevels { skillId level }
      pace { value n baseline baselineN }
      predictedDefectRate { value n baseline baselineN }
      reasons { zh en }
    }
  }
}"""
RECORD_FACT = """mutation RecordFact($input: FactInput!) {
  recordFact(input: $input) {
    __typename
    ... on FactRecordPayload { outcome fact { id kind occurredAt value } }
    ... on FactRecordError { code field message messageZh }
  }
}"""


@dataclass(frozen=True)
class Operation:
    name: str
    weight: int
    document: str
    root: str  # the field of ``data`` the answer must have
    typename: str | None = None  # the union member a mutation must answer with

    @property
    def operation_name(self) -> str:
        """``query Profile($id: ID!) ...`` is ``Profile``."""
        return self.document.split("(", 1)[0].split("{", 1)[0].split()[-1]


OPERATIONS = {
    operation.name: operation
    for operation in (
        # A person logs in once a session (each simulated user when it starts, too), and a
        # session is a few hundred steps: one step in about 200 is a new login.
        Operation("login", 1, LOGIN, "login", "LoginPayload"),
        Operation("profile", 60, PROFILE, "node"),
        Operation("people", 40, PEOPLE, "employees"),
        Operation("scorecard", 40, SCORECARD, "scorecard"),
        Operation("dashboard", 20, DASHBOARD, "rdDashboard"),
        Operation("matching", 20, MATCH, "matchCandidates"),
        Operation("fact_write", 30, RECORD_FACT, "recordFact", "FactRecordPayload"),
    )
}
WEIGHTS = {name: operation.weight for name, operation in OPERATIONS.items()}


@dataclass
class Plan:
    """What ``bench.load`` read from the server once: accounts and ids to ask about."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.tenant: str = document["tenant"]
        self.password: str = document["password"]
        self.accounts: list[str] = document["accounts"]
        self.employees: list[str] = document["employees"]
        self.cursors: list[str | None] = document["cursors"]
        self.scorecards: list[list[str]] = document["scorecards"]
        self.units: list[str] = document["units"]
        self.skills: list[str] = document["skills"]
        self.starts_on: str = document["dashboard"]["startsOn"]
        self.ends_on: str = document["dashboard"]["endsOn"]


def login_variables(plan: Plan, email: str) -> dict[str, Any]:
    return {"tenant": plan.tenant, "email": email, "password": plan.password}


def profile_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    return {"id": rng.choice(plan.employees)}


def people_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    variables: dict[str, Any] = {"first": PAGE, "after": None, "filter": None}
    if rng.random() < 0.25:
        variables["filter"] = {"orgUnitId": rng.choice(plan.units)}
    elif rng.random() < 0.4:
        # Most people look at the first page; some page on.
        variables["after"] = rng.choice(plan.cursors)
    return variables


def scorecard_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    period, person = rng.choice(plan.scorecards)
    return {"periodId": period, "employeeId": person}


def dashboard_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    selection: dict[str, Any] = {
        "startsOn": plan.starts_on,
        "endsOn": plan.ends_on,
        "groupBy": "MONTH",
    }
    if rng.random() < 0.5:
        selection["orgUnitId"] = rng.choice(plan.units)
    return {"filter": selection}


def matching_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    skills = rng.sample(plan.skills, k=min(len(plan.skills), 2 if rng.random() < 0.4 else 1))
    deadline = datetime.now(UTC).date() + timedelta(days=rng.randint(21, 60))
    return {
        "input": {
            "skills": [{"skillId": skill, "minLevel": rng.choice((2, 3))} for skill in skills],
            "size": rng.choice((2, 3, 5, 8)),
            "deadline": deadline.isoformat(),
        }
    }


def fact_variables(plan: Plan, rng: random.Random) -> dict[str, Any]:
    kind, value, denominator = rng.choice(
        (
            ("feasibility_answer", round(rng.uniform(1, 48), 1), None),
            ("action_item", float(rng.random() < 0.8), 1.0),
            ("training_given", round(rng.uniform(3, 5), 1), None),
        )
    )
    return {
        "input": {
            "employeeId": rng.choice(plan.employees),
            "kind": kind,
            "occurredAt": datetime.now(UTC).isoformat(),
            "value": value,
            "denominator": denominator,
            "source": "bench",
            # A new fact every time: recording the same key again would be a no-op.
            "externalKey": f"load-{rng.getrandbits(64):016x}",
        }
    }


VARIABLES: dict[str, Callable[[Plan, random.Random], dict[str, Any]]] = {
    "profile": profile_variables,
    "people": people_variables,
    "scorecard": scorecard_variables,
    "dashboard": dashboard_variables,
    "matching": matching_variables,
    "fact_write": fact_variables,
}


def judge(operation: Operation, status: int, body: bytes) -> str | None:
    """Why an answer to ``operation`` is a failure, or None when it is a success: a 200
    with ``data[root]`` (of the expected union member, for a mutation) and no ``errors``."""
    text = body[:300].decode("utf-8", "replace")
    if status != 200:
        return f"status {status}: {text}"
    try:
        document = json.loads(body)
    except ValueError:
        return f"not JSON: {text}"
    if not isinstance(document, dict):
        return f"not a GraphQL answer: {text}"
    if document.get("errors"):
        return f"errors: {json.dumps(document['errors'], ensure_ascii=False)[:400]}"
    found = (document.get("data") or {}).get(operation.root)
    if found is None:
        return f"no {operation.root}: {text}"
    if operation.typename is not None and found.get("__typename") != operation.typename:
        return f"{found.get('__typename')}: {json.dumps(found, ensure_ascii=False)[:300]}"
    return None
