"""The measure register: load a YAML or CSV file, validate every row, return measures and people.

The register is also the glossary leaders read, so the descriptive fields travel with each measure.
Validation looks at every row before anything is returned, so that a file with one bad row is
rejected whole and the user sees every problem at once:

>>> rows = [{"id": "OD-01", "name": "Backlog", "area": "Operational delivery", "unit": "count",
...          "better": "down", "target": 500, "owner_email": "a@agency.example"}]
>>> register = validate_register(rows)
>>> register.measures[0].target
500.0
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.targets import (
    InvalidHistory,
    Rebase,
    TargetStep,
    parse_rebase,
    parse_targets,
    rebase_for,
    target_for,
    to_plain,
)
from bot.tolerance import InvalidTolerance, parse_tolerance
from bot.values import MEASURE_ID_PATTERN

UNITS = ("%", "days", "count", "£", "score")
DIRECTIONS = ("up", "down", "neutral")
FREQUENCIES = ("monthly", "quarterly")
ROLES = ("owner", "deputy", "coordinator", "leadership")
# How monthly figures make a quarter or a year (bot.rollup has the rules and the defaults).
AGGREGATES = ("sum", "mean", "last", "min", "max")
FIELDS = (
    "id", "name", "area", "description", "limitations", "source", "unit", "better", "target",
    "amber_tolerance", "red_tolerance", "frequency", "aggregate", "public", "owner_email",
    "deputy_email", "targets", "rebase",
)  # fmt: skip
EMAIL_PATTERN = re.compile(r"^[^@\s<>,;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Measure:
    id: str
    name: str
    area: str
    unit: str
    better: str
    target: float | None  # the latest target; None for a measure that is only monitored
    owner_email: str
    description: str = ""
    limitations: str = ""
    source: str = ""
    amber_tolerance: str = ""
    red_tolerance: str = ""
    frequency: str = "monthly"
    deputy_email: str = ""
    active: bool = True
    # Every target the measure has had, oldest first; a plain `target:` is one step from ever.
    targets: tuple[TargetStep, ...] = ()
    rebase: tuple[Rebase, ...] = ()
    aggregate: str = ""  # "" means the unit's default (bot.rollup.DEFAULT_AGGREGATE)
    public: bool = True  # False keeps the measure out of the public pack

    def __post_init__(self) -> None:
        if not self.targets and self.target is not None:
            object.__setattr__(self, "targets", (TargetStep("", float(self.target)),))

    def target_for(self, period: str) -> float | None:
        """The target in force for a figure of ``period`` (None: monitored, no target)."""
        return target_for(self.targets, period)

    def rebase_for(self, period: str) -> Rebase | None:
        """The rebase that starts the group ``period`` belongs to, if any."""
        return rebase_for(self.rebase, period)

    def may_submit(self, email: str) -> bool:
        """Only the owner and the deputy may send a figure for a measure."""
        return email.lower() in {self.owner_email, self.deputy_email} - {""}

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["targets"], row["rebase"] = to_plain(self.targets), to_plain(self.rebase)
        return row


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Area:
    """An outcome area: its lead gets the area's scorecard; its approver signs its figures off."""

    name: str
    lead_email: str
    approver_email: str = ""
    description: str = ""


AREA_FIELDS = ("name", "lead_email", "approver_email", "description")


@dataclass(frozen=True)
class Problem:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ImportRejected(ValueError):
    """A file that cannot be imported; `problems` lists every row and field at fault."""

    def __init__(self, problems: list[Problem], source: str = "register") -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: nothing imported, {count} found")


@dataclass(frozen=True)
class Register:
    measures: list[Measure]
    people: list[Person] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)


def normalise_email(raw: Any) -> str:
    return str(raw or "").strip().lower()


def is_email(text: str) -> bool:
    return bool(EMAIL_PATTERN.match(text))


def load_register(path: Path) -> Register:
    """Read and validate a register file (YAML with `measures:` and optional `people:` and
    `areas:`, or CSV)."""
    measure_rows, people_rows, area_rows = read_register_rows(path)
    return validate_register(measure_rows, people_rows, source=path.name, area_rows=area_rows)


def read_register_rows(path: Path) -> tuple[list[dict], list[dict], list[dict]]:
    text = read_text(path)
    if path.suffix.lower() == ".csv":
        return read_csv_rows(text, path.name), [], []
    try:
        document = load_yaml(text)
    except TooComplex as exc:
        raise ImportRejected([Problem(0, "", str(exc))], path.name) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ImportRejected([Problem(0, "", f"not valid YAML{where}")], path.name) from exc
    if not isinstance(document, dict) or not isinstance(document.get("measures"), list):
        problem = Problem(0, "measures", "the file needs a top-level 'measures:' list")
        raise ImportRejected([problem], path.name)
    lists = []
    for name in ("people", "areas"):
        rows = document.get(name) or []
        if not isinstance(rows, list):
            raise ImportRejected([Problem(0, name, f"'{name}:' must be a list")], path.name)
        lists.append(rows)
    return document["measures"], lists[0], lists[1]


MAX_FILE_BYTES = 20_000_000  # a register of 8,000 measures with ten years of history is ~5 MB
MAX_YAML_DEPTH = 20  # a register is a list of flat mappings: three levels deep
MAX_YAML_NODES = 1_000_000  # counting what aliases expand to: "billion laughs" stops here


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportRejected([Problem(0, "", (
                f"larger than {MAX_FILE_BYTES // 1_000_000} MB; is this the right file?"
            ))], path.name)  # fmt: skip
        # utf-8-sig: spreadsheets exporting CSV often add a byte-order mark
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ImportRejected([Problem(0, "", f"no such file: {path}")], path.name) from exc
    except IsADirectoryError as exc:
        raise ImportRejected([Problem(0, "", (
            f"{path} is a folder; give the file inside it, e.g. {path}/measures.yaml"
        ))], path.name) from exc  # fmt: skip
    except UnicodeDecodeError as exc:
        message = "not UTF-8 text; save it as UTF-8 (in Excel: CSV UTF-8)"
        raise ImportRejected([Problem(0, "", message)], path.name) from exc
    except OSError as exc:
        raise ImportRejected([Problem(0, "", (
            f"cannot read {path}: {exc.strerror or exc}; check it exists and you may read it"
        ))], path.name) from exc  # fmt: skip


def read_csv_rows(text: str, source: str = "file") -> list[dict]:
    """The rows under the header, as dicts; every row must have as many fields as the header.

    An unquoted comma ('1,5' for one and a half) would otherwise shift the row's later fields
    into the wrong columns and store them there. The first such row is named.
    """
    reader = csv.reader(io.StringIO(text))
    rows: list[dict] = []
    try:
        header = next(reader, [])
        for number, fields in enumerate(reader, start=2):
            if fields and len(fields) != len(header):
                raise ImportRejected([Problem(number, "", (
                    f"{len(fields)} fields but the header has {len(header)}; put quotes round "
                    'a value with a comma in it ("1,5") or remove the extra commas'
                ))], source)  # fmt: skip
            if fields:
                rows.append(dict(zip(header, fields, strict=True)))
    except csv.Error as exc:
        raise ImportRejected([Problem(reader.line_num, "", (
            f"{exc}; shorten the field or check for an unclosed quote"
        ))], source) from exc  # fmt: skip
    return rows


class TooComplex(ValueError):
    """A YAML document nested or aliased beyond what any register needs."""


class _LimitedLoader(yaml.SafeLoader):
    """The safe loader, refusing documents nested deeper than MAX_YAML_DEPTH; the node count
    after aliases is checked before anything is built (`load_yaml`)."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise TooComplex(f"nested more than {MAX_YAML_DEPTH} levels deep; a register "
                                 "is a list of measures, each a set of 'field: value' lines")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str) -> Any:
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise TooComplex(f"its aliases (*name) expand to more than {MAX_YAML_NODES:,} values; "
                             "write the measures out instead of repeating aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the document has once every alias is expanded (each node counted once
    per place it appears), in time linear in the unexpanded document."""
    if id(node) not in sizes:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def validate_register(
    measure_rows: Iterable[Any],
    people_rows: Iterable[Any] = (),
    source: str = "register",
    area_rows: Iterable[Any] = (),
) -> Register:
    """Validate every row; return the register or raise ImportRejected listing every problem."""
    problems: list[Problem] = []
    measures: list[Measure] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(measure_rows, start=1):
        measure = validate_measure(number, row, problems)
        if measure is None:
            continue
        if measure.id in seen:
            problems.append(
                Problem(number, "id", f"duplicate id {measure.id} (also row {seen[measure.id]})")
            )
            continue
        seen[measure.id] = number
        measures.append(measure)
    people = [
        p for n, row in enumerate(people_rows, start=1) if (p := validate_person(n, row, problems))
    ]
    areas = validate_areas(area_rows, {m.area for m in measures}, problems)
    if not measures and not problems:
        problems.append(Problem(0, "measures", "the register lists no measures"))
    if problems:
        raise ImportRejected(problems, source)
    return Register(measures, people, areas)


def validate_areas(rows: Iterable[Any], used: set[str], problems: list[Problem]) -> list[Area]:
    """The `areas:` list: one entry per outcome area, named exactly as its measures name it.

    An area no measure uses is refused: it is almost always a misspelling, and its lead would
    never get a scorecard.
    """
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        found: dict[str, str] = {}
        checks = (
            ("", lambda row=row: _mapping(row, "areas")),
            ("", lambda row=row: _known_fields(row, AREA_FIELDS)),
            ("name", lambda row=row: _area_name(row, used, seen)),
            ("lead", lambda row=row: _email(row, "lead_email", required=True)),
            ("approver", lambda row=row: _email(row, "approver_email", required=False)),
        )
        before = len(problems)
        for key, check in checks:
            try:
                found[key] = check()
            except FieldProblem as exc:
                problems.append(Problem(number, f"areas.{exc.field}".rstrip("."), str(exc)))
                if not key and not isinstance(row, Mapping):
                    break
        if len(problems) > before:
            continue
        seen[found["name"]] = number
        description = " ".join(str(row.get("description") or "").split())
        areas.append(Area(found["name"], found["lead"], found["approver"], description))
    return areas


class FieldProblem(ValueError):
    """One field's problem, raised by a check and listed with every other (nothing stops at it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _mapping(row: Any, what: str) -> str:
    if not isinstance(row, Mapping):
        raise FieldProblem("", f"each entry of '{what}:' must be a mapping of field: value")
    return ""


def _known_fields(row: Mapping, fields: tuple[str, ...]) -> str:
    unknown = sorted(set(map(str, row)) - set(fields))
    if unknown:
        raise FieldProblem(unknown[0], f"unknown field; the fields are {', '.join(fields)}")
    return ""


def _area_name(row: Mapping, used: set[str], seen: dict[str, int]) -> str:
    name = str(row.get("name") or "").strip()
    if not name:
        raise FieldProblem("name", "missing; give the outcome area's name as its measures spell it")
    if name in seen:
        raise FieldProblem("name", f"duplicate area {name!r} (also row {seen[name]})")
    if name not in used:
        raise FieldProblem("name", f"no measure has area {name!r}; spell it as the measures do")
    return name


def _email(row: Mapping, field: str, *, required: bool) -> str:
    email = normalise_email(row.get(field))
    if required and not email:
        raise FieldProblem(field, "missing; give the address of the person it names")
    if email and not is_email(email):
        raise FieldProblem(field, f"{email!r} is not an email address")
    return email


def _choice(row: Mapping, field: str, allowed: tuple[str, ...], default: str) -> str:
    """A field taking one of a few words, or ``default`` when left out."""
    raw = row.get(field)
    value = ("" if raw is None else str(raw)).strip().lower() or default  # YAML's false is False
    if value != default and value not in allowed:
        raise FieldProblem(field, f"{value!r} is not allowed; use {', '.join(allowed)}")
    return value


def validate_measure(number: int, row: Any, problems: list[Problem]) -> Measure | None:
    if not isinstance(row, Mapping):
        problems.append(Problem(number, "", "each measure must be a mapping of field: value"))
        return None
    before = len(problems)

    def problem(name: str, message: str) -> None:
        problems.append(Problem(number, name, message))

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    unknown = sorted(set(map(str, row)) - set(FIELDS) - {"active"})
    if unknown:
        problem(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")

    measure_id = text("id").upper()
    if not measure_id:
        problem("id", "missing; give an id such as OD-01")
    elif not MEASURE_ID_PATTERN.fullmatch(measure_id):
        problem(
            "id",
            f"{measure_id!r} is not a valid id; use up to 20 letters, digits, '-', '_', '.' or "
            "'/', starting with a letter and holding a digit, e.g. OD-01 or KPI-1.2",
        )
    for name in ("name", "area"):
        if not text(name):
            problem(name, "missing")
    unit = text("unit")
    if unit not in UNITS:
        problem("unit", f"{unit!r} is not a known unit; use one of {', '.join(UNITS)}")
    better = text("better").lower()
    if better not in DIRECTIONS:
        problem("better", f"{better!r} is not allowed; use up, down or neutral")
    frequency = text("frequency").lower() or "monthly"
    if frequency not in FREQUENCIES:
        problem("frequency", f"{frequency!r} is not allowed; use monthly or quarterly")

    choices = {"aggregate": (AGGREGATES, ""), "public": (("true", "false", "yes", "no"), "true")}
    chosen = {}
    for name, (allowed, default) in choices.items():
        try:
            chosen[name] = _choice(row, name, allowed, default)
        except FieldProblem as exc:
            problem(exc.field, str(exc))
    aggregate, public = chosen.get("aggregate", ""), chosen.get("public", "true")

    target = parse_target(text("target"), problem) if text("target") else None
    steps: tuple[TargetStep, ...] = ()
    rebases: tuple[Rebase, ...] = ()
    for name, parse in (("targets", parse_targets), ("rebase", parse_rebase)):
        try:
            parsed = parse(row.get(name))
        except InvalidHistory as exc:
            problem(name, str(exc))
            continue
        if name == "targets":
            steps = parsed  # type: ignore[assignment]
        else:
            rebases = parsed  # type: ignore[assignment]
    if steps and text("target"):
        problem("targets", "give either target or targets, not both")
    if steps:
        target = steps[-1].value
    tolerances = {}
    for name in ("amber_tolerance", "red_tolerance"):
        try:
            tolerances[name] = parse_tolerance(row.get(name))
        except InvalidTolerance as exc:
            problem(name, str(exc))
    amber, red = tolerances.get("amber_tolerance"), tolerances.get("red_tolerance")
    if target is not None and amber and red and red.distance(target) < amber.distance(target):
        problem("red_tolerance", "must be at least as wide as amber_tolerance")

    owner = normalise_email(row.get("owner_email"))
    deputy = normalise_email(row.get("deputy_email"))
    if not owner:
        problem("owner_email", "missing; every measure needs an owner who sends its figures")
    for name, email in (("owner_email", owner), ("deputy_email", deputy)):
        if email and not is_email(email):
            problem(name, f"{email!r} is not an email address")
    if owner and owner == deputy:
        problem(
            "deputy_email", "is the same person as the owner; leave it blank or name someone else"
        )

    if len(problems) > before:
        return None
    return Measure(
        id=measure_id,
        name=text("name"),
        area=text("area"),
        description=text("description"),
        limitations=text("limitations"),
        source=text("source"),
        unit=unit,
        better=better,
        target=target,
        amber_tolerance=text("amber_tolerance"),
        red_tolerance=text("red_tolerance"),
        frequency=frequency,
        owner_email=owner,
        deputy_email=deputy,
        active=str(row.get("active", True)).strip().lower() not in {"false", "0", "no"},
        targets=steps,
        rebase=rebases,
        aggregate=aggregate,
        public=public in {"true", "yes"},
    )


def parse_target(raw: str, problem) -> float | None:
    try:
        target = float(raw.replace(",", "").rstrip("%").lstrip("£"))
    except ValueError:
        problem("target", f"{raw!r} is not a number")
        return None
    if target != target or target in (float("inf"), float("-inf")):
        problem("target", f"{raw!r} is not a finite number")
        return None
    return target


def validate_person(number: int, row: Any, problems: list[Problem]) -> Person | None:
    if not isinstance(row, Mapping):
        problems.append(Problem(number, "people", "each person must be a mapping with an email"))
        return None
    email = normalise_email(row.get("email"))
    if not is_email(email):
        problems.append(Problem(number, "people.email", f"{email!r} is not an email address"))
        return None
    roles = row.get("roles") or []
    if isinstance(roles, str):
        roles = [r.strip() for r in roles.split(",") if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if bad:
        problems.append(
            Problem(number, "people.roles", f"{bad[0]!r} is not a role; use {', '.join(ROLES)}")
        )
        return None
    return Person(email=email, name=str(row.get("name") or "").strip(), roles=tuple(roles))
