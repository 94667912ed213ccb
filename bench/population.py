"""A realistic synthetic population of studyhub, deterministic from a seed.

Users come in communities (a school, a course, a country's exam season): members of one community
mostly share a timezone and a focus subject, and about three quarters of all friendships stay
inside a community.
The friend graph is a degree-corrected stochastic block model: every user draws a target degree
from a truncated power law (a few users have thousands of friends, most have a few dozen), and
edges are sampled Chung-Lu style, each endpoint with probability proportional to its target
degree, within each community and, for the remaining share, across communities.

Everything is generated per community from its own random stream (``numpy`` seeded with
``(seed, stream, community)``), so the output does not depend on the order or the chunking of
the consumer, and a million users never sit in memory as Python objects: users and friendship
rows are yielded one community at a time. Only the cross-community edges (about a fifth of the
graph) are sampled globally, as packed ``int64`` keys.

Ids come from ``core.ids.IdGenerator`` with a generator id reserved for synthetic populations
(``SYNTHETIC_GENERATOR_IDS``); the loader removes a population again by that generator id. Ids
therefore differ between runs; everything else (names, profiles, the graph by user index, rooms)
is the same for the same seed.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Final, TypedDict

import numpy as np
import numpy.typing as npt

from bench.bulk import SYNTHETIC_GENERATOR_IDS, RoomRow, StudyProfileRow, UserRow
from core.ids import IdGenerator

log = logging.getLogger(__name__)

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# One of bench.bulk.SYNTHETIC_GENERATOR_IDS, the generator ids reserved for populations.
DEFAULT_GENERATOR_ID: Final = 1000

# Every synthetic user has the password SYNTHETIC_PASSWORD. Its argon2id hash (the format and
# parameters of domain.auth) is precomputed once with a fixed salt: hashing a million passwords
# at ~50 ms each would take hours, and a shared hash is acceptable for synthetic users only.
# The load generator logs in with it.
SYNTHETIC_PASSWORD: Final = "studyhub-bench-password"  # noqa: S105 - synthetic users only
SYNTHETIC_PASSWORD_HASH: Final = (
    "$argon2id$v=19$m=65536,t=3,p=4$c3R1ZHlodWItYmVuY2gtc2FsdA"  # noqa: S105 - synthetic users only
    "$n9G8OiCb2Eo+ZNB36KDbx1gu8xh9PWdp6ml8rjEkiqI"
)

# Ordered by popularity; popularity falls off as 1/rank (Zipf, s=1).
SUBJECTS: Final[tuple[str, ...]] = (
    "Mathematics", "Computer Science", "Biology", "Chemistry", "Physics", "English Literature",
    "Economics", "Psychology", "History", "Calculus", "Statistics", "Medicine", "Law",
    "Accounting", "Spanish", "Business Management", "Data Science", "Nursing", "Engineering",
    "Philosophy", "Political Science", "Organic Chemistry", "Linear Algebra", "French", "German",
    "Sociology", "Anatomy", "Geography", "Art History", "Music Theory", "Japanese",
    "Mandarin Chinese", "Environmental Science", "Pharmacology", "Architecture", "Astronomy",
    "Machine Learning", "Mechanical Engineering", "Electrical Engineering", "Creative Writing",
)  # fmt: skip
ZIPF_EXPONENT: Final = 1.0
SUBJECT_POPULARITY: Final[FloatArray] = np.arange(1, len(SUBJECTS) + 1, dtype=np.float64) ** (
    -ZIPF_EXPONENT
) / np.sum(np.arange(1, len(SUBJECTS) + 1, dtype=np.float64) ** (-ZIPF_EXPONENT))

# IANA zones weighted roughly by where students who use study apps live.
TIMEZONES: Final[tuple[tuple[str, float], ...]] = (
    ("America/New_York", 10.0),
    ("America/Chicago", 6.0),
    ("America/Denver", 2.0),
    ("America/Los_Angeles", 7.0),
    ("America/Toronto", 2.0),
    ("America/Mexico_City", 3.0),
    ("America/Bogota", 1.5),
    ("America/Sao_Paulo", 4.0),
    ("America/Argentina/Buenos_Aires", 1.5),
    ("Europe/London", 6.0),
    ("Europe/Dublin", 0.5),
    ("Europe/Madrid", 2.0),
    ("Europe/Paris", 3.0),
    ("Europe/Berlin", 4.0),
    ("Europe/Amsterdam", 1.0),
    ("Europe/Rome", 2.0),
    ("Europe/Warsaw", 1.5),
    ("Europe/Stockholm", 0.7),
    ("Europe/Istanbul", 2.0),
    ("Europe/Moscow", 2.0),
    ("Africa/Lagos", 2.0),
    ("Africa/Cairo", 1.5),
    ("Africa/Nairobi", 1.0),
    ("Africa/Johannesburg", 1.0),
    ("Asia/Dubai", 1.0),
    ("Asia/Karachi", 2.0),
    ("Asia/Kolkata", 9.0),
    ("Asia/Dhaka", 1.5),
    ("Asia/Bangkok", 1.0),
    ("Asia/Jakarta", 2.5),
    ("Asia/Manila", 2.5),
    ("Asia/Singapore", 1.0),
    ("Asia/Shanghai", 4.0),
    ("Asia/Hong_Kong", 1.0),
    ("Asia/Seoul", 2.0),
    ("Asia/Tokyo", 2.5),
    ("Australia/Perth", 0.5),
    ("Australia/Sydney", 2.0),
    ("Pacific/Auckland", 0.5),
    ("UTC", 1.0),
)
_TZ_NAMES: Final = tuple(name for name, _ in TIMEZONES)
_TZ_WEIGHTS: Final[FloatArray] = np.array([w for _, w in TIMEZONES]) / sum(w for _, w in TIMEZONES)

_FIRST_NAMES: Final = (
    "Aarav", "Ada", "Adebayo", "Aiko", "Alejandro", "Amara", "Amelia", "Ana", "Arjun", "Ayesha",
    "Ben", "Camila", "Carlos", "Chen", "Chloe", "Daniel", "David", "Diego", "Elena", "Emma",
    "Fatima", "Felix", "Gabriel", "Hana", "Hannah", "Hiroshi", "Ibrahim", "Isabella", "Ivan",
    "Jakub", "James", "Jin", "José", "Julia", "Kavya", "Kwame", "Lars", "Laura", "Leila", "Liam",
    "Lucas", "Maria", "Mateo", "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Nour", "Olivia",
    "Omar", "Priya", "Rafael", "Rohan", "Sakura", "Sara", "Sofia", "Tariq", "Thandiwe", "Tomás",
    "Wei", "Yuki", "Zainab", "Zoë",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Abe", "Adeyemi", "Ahmed", "Ali", "Andersson", "Bauer", "Brown", "Chen", "Costa", "Das",
    "Dubois", "Fernández", "Fischer", "García", "Gonzalez", "Gupta", "Hassan", "Hernández",
    "Ivanova", "Jansen", "Johnson", "Kim", "Kowalski", "Kumar", "Lee", "Li", "Lopez", "Martin",
    "Mensah", "Miller", "Moreau", "Müller", "Nakamura", "Nguyen", "Novak", "Okafor", "Oliveira",
    "Park", "Patel", "Pereira", "Petrov", "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith",
    "Suzuki", "Tanaka", "Taylor", "Wang", "Williams", "Wilson", "Wójcik", "Yamamoto", "Yilmaz",
    "Zhang", "Zhou",
)  # fmt: skip

_GOAL_TEMPLATES: Final = (
    "Pass {subject} with at least a {grade}.",
    "Study {subject} for {hours} hours a week.",
    "Prepare for the {subject} final in {month}.",
    "Keep a daily {subject} streak going.",
    "Finish my {subject} coursework before {month}.",
    "Get through the {subject} textbook one chapter at a time.",
    "Find a study buddy for {subject} and stay accountable.",
    "Review {subject} notes every evening instead of cramming.",
)
_GRADES: Final = ("A", "A-", "B+", "B", "7", "distinction", "first")
_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

# How many subjects a profile lists (1..5).
_SUBJECT_COUNT_P: Final[FloatArray] = np.array([0.2, 0.3, 0.25, 0.15, 0.1])
# A community's focus subject is this many times likelier than its global popularity says.
_FOCUS_BOOST: Final = 12.0
# Share of a community's members who live in its home timezone; the rest are anywhere.
_HOME_TZ_SHARE: Final = 0.85

_ROOM_CAPACITIES: Final = (2, 4, 6, 8, 10, 12, 16, 20, 25, 30, 50, 100)
_ROOM_CAPACITY_P: Final[FloatArray] = np.array(
    [3, 10, 10, 14, 14, 10, 8, 10, 6, 5, 7, 3], dtype=np.float64
) / np.float64(100)
_ROOM_PRIVATE_SHARE: Final = 0.2
_ROOM_SUFFIXES: Final = (
    "study hall", "exam prep", "deep focus", "pomodoro squad", "late night grind",
    "morning grind", "homework help", "silent study", "revision sprint", "problem sets",
    "reading group", "flashcards", "mock exam", "office hours", "weekend marathon",
)  # fmt: skip

# Random streams: every (seed, stream, part) triple seeds an independent generator.
_STREAM_STRUCTURE: Final = 1
_STREAM_WITHIN: Final = 2
_STREAM_CROSS: Final = 3
_STREAM_SUBJECTS: Final = 4
_STREAM_USERS: Final = 5
_STREAM_ROOMS: Final = 6

# Upper bound on the rounds of "sample, drop self-loops and duplicates, top up"; dense blocks
# converge in a handful, and the cap keeps a pathological configuration from spinning forever.
_MAX_SAMPLING_ROUNDS: Final = 200
_SAMPLE_BATCH: Final = 1 << 20
MAX_USERS: Final = 20_000_000


class AvailabilitySlot(TypedDict):
    day: int  # 0 = Monday .. 6 = Sunday, in the user's timezone
    start: str  # "HH:MM"
    end: str  # "HH:MM", later than start on the same day


@dataclass(frozen=True, slots=True)
class _Persona:
    weight: float
    days: tuple[int, ...]
    day_probability: float
    start_window: tuple[int, int]  # minutes after midnight, multiples of 15
    duration: tuple[int, int]  # minutes, multiples of 15
    weekend_extra: bool  # also studies on some weekend days


_WEEKDAYS: Final = (0, 1, 2, 3, 4)
_PERSONAS: Final = (
    _Persona(0.35, _WEEKDAYS, 0.75, (17 * 60, 20 * 60), (60, 180), True),  # after school/work
    _Persona(0.15, _WEEKDAYS, 0.6, (6 * 60, 8 * 60 + 30), (45, 120), True),  # early bird
    _Persona(0.2, _WEEKDAYS, 0.55, (9 * 60, 14 * 60), (60, 240), True),  # full-time student
    _Persona(0.15, (5, 6), 0.9, (9 * 60, 15 * 60), (120, 300), False),  # weekend only
    _Persona(0.15, (0, 1, 2, 3, 4, 5, 6), 0.5, (21 * 60, 22 * 60 + 30), (45, 120), False),
)
_PERSONA_CUM_WEIGHTS: Final = tuple(np.cumsum([p.weight for p in _PERSONAS]).tolist())
_LAST_MINUTE: Final = 23 * 60 + 45  # slots end by 23:45, never across midnight


@dataclass(frozen=True)
class PopulationConfig:
    """What to generate. Invalid combinations raise ValueError with the reason."""

    users: int
    avg_degree: float = 50.0
    rooms: int = 0
    seed: int = 1
    generator_id: int = DEFAULT_GENERATOR_ID
    username_prefix: str = "u"
    # Target share of a user's friendships inside their community. Hubs outgrow their community
    # and spill over, so the realised share of edges is lower: about 0.7-0.8.
    in_community_share: float = 0.85
    # Exponent gamma of the degree distribution's tail, P(k) ~ k^-gamma.
    degree_exponent: float = 2.3
    # Cap on a user's target degree; default min(100 x avg_degree, (users - 1) / 4).
    max_degree: int | None = None
    # Mean community size; default max(8 x avg_degree, min(1000, users / 20)).
    community_size: int | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.users <= MAX_USERS:
            raise ValueError(f"users must be in 2..{MAX_USERS:,}, got {self.users}")
        if not self.avg_degree >= 1:
            raise ValueError(f"avg_degree must be at least 1, got {self.avg_degree}")
        if self.avg_degree >= self.users:
            raise ValueError(
                f"avg_degree ({self.avg_degree:g}) must be below users ({self.users}): "
                "nobody can have more friends than there are other people"
            )
        if self.users < 10 * self.avg_degree:
            raise ValueError(
                f"users ({self.users}) must be at least 10 x avg_degree = "
                f"{10 * self.avg_degree:g}: denser graphs leave no room for communities "
                "and a heavy-tailed degree distribution"
            )
        if self.rooms < 0:
            raise ValueError(f"rooms must not be negative, got {self.rooms}")
        if self.generator_id not in SYNTHETIC_GENERATOR_IDS:
            raise ValueError(
                f"generator_id must be in {SYNTHETIC_GENERATOR_IDS.start}.."
                f"{SYNTHETIC_GENERATOR_IDS.stop - 1} (reserved for synthetic populations), "
                f"got {self.generator_id}"
            )
        longest = f"{self.username_prefix}{self.users - 1}"
        if not self.username_prefix or len(longest) > 32:
            raise ValueError(
                f"username_prefix {self.username_prefix!r} must be non-empty and keep usernames "
                f"within 32 characters ({longest!r} is {len(longest)})"
            )
        if not 0.0 <= self.in_community_share <= 1.0:
            raise ValueError(f"in_community_share must be in 0..1, got {self.in_community_share}")
        if not 2.0 < self.degree_exponent <= 4.0:
            raise ValueError(
                f"degree_exponent must be in (2, 4] (a finite mean with a heavy tail), "
                f"got {self.degree_exponent}"
            )
        if self.max_degree is not None and not (
            self.avg_degree <= self.max_degree <= self.users - 1
        ):
            raise ValueError(
                f"max_degree must be in avg_degree..users-1 ({self.avg_degree:g}.."
                f"{self.users - 1}), got {self.max_degree}"
            )
        if self.community_size is not None and self.community_size < 2:
            raise ValueError(f"community_size must be at least 2, got {self.community_size}")

    @property
    def degree_cap(self) -> float:
        if self.max_degree is not None:
            return float(self.max_degree)
        return float(min(100 * self.avg_degree, (self.users - 1) // 4))

    @property
    def mean_community_size(self) -> int:
        if self.community_size is not None:
            return self.community_size
        return int(max(8 * self.avg_degree, min(1000, self.users // 20)))


@dataclass(frozen=True, slots=True)
class SyntheticUser:
    index: int
    id: int
    community: int
    username: str
    display_name: str
    timezone: str
    subjects: tuple[str, ...]
    availability: tuple[AvailabilitySlot, ...]
    goals: str

    def user_row(self) -> UserRow:
        return UserRow(
            id=self.id,
            username=self.username,
            display_name=self.display_name,
            password_hash=SYNTHETIC_PASSWORD_HASH,
            timezone=self.timezone,
        )

    def profile_row(self) -> StudyProfileRow:
        return StudyProfileRow(
            user_id=self.id,
            subjects=self.subjects,
            timezone=self.timezone,
            availability=self.availability,
            goals=self.goals,
        )


@dataclass(frozen=True, slots=True)
class SyntheticRoom:
    index: int
    id: int
    owner_index: int
    owner_id: int
    name: str
    topic: str
    capacity: int
    visibility: str

    def room_row(self) -> RoomRow:
        return RoomRow(
            id=self.id,
            owner_id=self.owner_id,
            name=self.name,
            topic=self.topic,
            capacity=self.capacity,
            visibility=self.visibility,
        )


@dataclass(frozen=True, slots=True)
class EdgeBlock:
    """Directed friendship rows whose first user belongs to one community, by user index.

    Sorted by (src, dst); both directions of every friendship appear across the blocks.
    """

    community: int
    src: Int64Array
    dst: Int64Array

    def __len__(self) -> int:
        return int(self.src.size)


def _rng(seed: int, stream: int, part: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, part])


def _minutes(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def _sample_pairs(
    rng: np.random.Generator, cdf: FloatArray, count: int
) -> tuple[Int64Array, Int64Array]:
    """``count`` pairs of indices, each endpoint drawn with probability proportional to weight."""
    top = cdf[-1]
    last = cdf.size - 1
    a = np.minimum(np.searchsorted(cdf, rng.random(count) * top, side="right"), last)
    b = np.minimum(np.searchsorted(cdf, rng.random(count) * top, side="right"), last)
    return a.astype(np.int64), b.astype(np.int64)


def _sorted_unique(values: Int64Array) -> Int64Array:
    """np.unique for int64 keys: numpy 2.4's np.unique takes seconds on millions of them."""
    values.sort()
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _simple_edges(
    rng: np.random.Generator,
    weights: FloatArray,
    target: int,
    *,
    labels: npt.NDArray[np.int32] | None = None,
) -> Int64Array:
    """``target`` distinct undirected edges as sorted keys ``lo * n + hi`` (Chung-Lu sampling).

    Self-loops and duplicates are dropped and topped up until the target is reached. With
    ``labels``, pairs with equal labels are rejected too (cross-community edges only).
    """
    n = weights.size
    if target <= 0 or n < 2 or not np.any(weights > 0):
        return np.empty(0, dtype=np.int64)
    cdf = np.cumsum(weights)
    keys = np.empty(0, dtype=np.int64)
    for _ in range(_MAX_SAMPLING_ROUNDS):
        missing = target - keys.size
        if missing <= 0:
            break
        fresh = [keys]
        wanted = int(missing * 1.1) + 16
        # In batches, so the temporaries of a 1M-user graph stay at tens of MB.
        for batch in range(0, wanted, _SAMPLE_BATCH):
            a, b = _sample_pairs(rng, cdf, min(_SAMPLE_BATCH, wanted - batch))
            keep = a != b
            if labels is not None:
                keep &= labels[a] != labels[b]
            a, b = a[keep], b[keep]
            fresh.append(np.minimum(a, b) * n + np.maximum(a, b))
        keys = _sorted_unique(np.concatenate(fresh))
    if keys.size < target:
        log.warning(
            "only %d of %d edges after %d sampling rounds (the block is too dense)",
            keys.size,
            target,
            _MAX_SAMPLING_ROUNDS,
        )
    if keys.size > target:
        # Dropping a uniform random excess keeps the degree proportions of the sample.
        keys = np.delete(keys, rng.choice(keys.size, size=keys.size - target, replace=False))
    return keys


class Population:
    """A generated population; users, edges and rooms are produced on demand, per community."""

    def __init__(self, config: PopulationConfig, ids: IdGenerator | None = None) -> None:
        self.config = config
        n = config.users
        rng = _rng(config.seed, _STREAM_STRUCTURE)

        self.community_sizes = self._community_sizes(rng)
        self.community_starts = np.concatenate([[0], np.cumsum(self.community_sizes)[:-1]]).astype(
            np.int64
        )
        self.communities = int(self.community_sizes.size)
        # Communities are contiguous index ranges, so a block of friendship rows covers a
        # contiguous range of user ids: the loader appends to the clustered index in order.
        self.membership: npt.NDArray[np.int32] = np.repeat(
            np.arange(self.communities, dtype=np.int32), self.community_sizes
        )
        self.community_timezone = rng.choice(len(TIMEZONES), size=self.communities, p=_TZ_WEIGHTS)
        self.community_focus = rng.choice(
            len(SUBJECTS), size=self.communities, p=SUBJECT_POPULARITY
        )

        self.target_degree = self._target_degrees(rng)
        share = config.in_community_share if self.communities > 1 else 1.0
        community_cap = 0.5 * (self.community_sizes[self.membership] - 1)
        self.weight_in = np.minimum(share * self.target_degree, community_cap)
        self.weight_out = self.target_degree - self.weight_in

        total = round(n * config.avg_degree / 2)
        sums_in = np.bincount(self.membership, weights=self.weight_in, minlength=self.communities)
        self.within_targets: Int64Array = np.rint(sums_in / 2).astype(np.int64)
        self.cross_target = (
            max(0, total - int(self.within_targets.sum())) if self.communities > 1 else 0
        )

        generator = ids if ids is not None else IdGenerator(config.generator_id)
        self.user_ids: Int64Array = np.fromiter(
            (generator.next_id() for _ in range(n)), dtype=np.int64, count=n
        )
        self.room_ids: Int64Array = np.fromiter(
            (generator.next_id() for _ in range(config.rooms)), dtype=np.int64, count=config.rooms
        )

    # -- structure -------------------------------------------------------------------------

    def _community_sizes(self, rng: np.random.Generator) -> Int64Array:
        n = self.config.users
        count = max(1, round(n / self.config.mean_community_size))
        raw = rng.lognormal(0.0, 0.5, count)
        raw = np.maximum(raw, 0.3 * raw.mean())
        sizes: Int64Array = np.floor(raw / raw.sum() * n).astype(np.int64)
        sizes[np.argsort(-raw)[: n - int(sizes.sum())]] += 1
        return sizes

    def _target_degrees(self, rng: np.random.Generator) -> FloatArray:
        """Truncated power-law target degrees with mean exactly ``avg_degree``."""
        cfg = self.config
        pareto = (1.0 - rng.random(cfg.users)) ** (-1.0 / (cfg.degree_exponent - 1.0))
        cap = cfg.degree_cap
        # mean(min(s * pareto, cap)) grows with s; pareto >= 1, so s = avg_degree overshoots.
        lo, hi = 0.0, float(cfg.avg_degree)
        for _ in range(100):
            mid = (lo + hi) / 2
            if float(np.minimum(mid * pareto, cap).mean()) < cfg.avg_degree:
                lo = mid
            else:
                hi = mid
        return np.minimum(hi * pareto, cap)

    def community_range(self, community: int) -> tuple[int, int]:
        start = int(self.community_starts[community])
        return start, start + int(self.community_sizes[community])

    @property
    def expected_friendship_rows(self) -> int:
        """Directed rows (both directions), if every block reaches its target edge count."""
        return 2 * (int(self.within_targets.sum()) + self.cross_target)

    # -- friendships -----------------------------------------------------------------------

    def within_edges(self, community: int) -> tuple[Int64Array, Int64Array]:
        """Undirected edges inside one community as global (lo, hi) user indexes."""
        start, end = self.community_range(community)
        size = end - start
        keys = _simple_edges(
            _rng(self.config.seed, _STREAM_WITHIN, community),
            self.weight_in[start:end],
            int(self.within_targets[community]),
        )
        return keys // size + start, keys % size + start

    @cached_property
    def _cross_directed(self) -> Int64Array:
        """Cross-community friendships in both directions, as sorted keys ``src * n + dst``."""
        n = self.config.users
        keys = _simple_edges(
            _rng(self.config.seed, _STREAM_CROSS),
            self.weight_out,
            self.cross_target,
            labels=self.membership,
        )
        directed = np.empty(2 * keys.size, dtype=np.int64)
        directed[: keys.size] = keys
        reverse = directed[keys.size :]
        np.remainder(keys, n, out=reverse)
        reverse *= n
        np.floor_divide(keys, n, out=keys)
        reverse += keys
        del keys, reverse
        directed.sort()
        return directed

    def edge_blocks(self) -> Iterator[EdgeBlock]:
        """Every directed friendship row, one community of first users at a time, by index."""
        n = self.config.users
        cross = self._cross_directed
        for community in range(self.communities):
            start, end = self.community_range(community)
            lo, hi = self.within_edges(community)
            first, last = np.searchsorted(cross, [start * n, end * n])
            keys = np.concatenate([keys_of(lo, hi, n), keys_of(hi, lo, n), cross[first:last]])
            keys.sort()
            yield EdgeBlock(community=community, src=keys // n, dst=keys % n)

    def friendship_rows(self) -> Iterator[tuple[Int64Array, Int64Array]]:
        """Like edge_blocks, mapped to user ids: (user1_id, user2_id) arrays per block."""
        for block in self.edge_blocks():
            yield self.user_ids[block.src], self.user_ids[block.dst]

    # -- users -----------------------------------------------------------------------------

    def _community_subjects(self, community: int) -> tuple[npt.NDArray[np.intp], Int64Array]:
        """Per member: subject indexes by preference (n x len(SUBJECTS)) and how many to keep.

        Gumbel top-k: sorting log-weights plus Gumbel noise draws subjects without replacement
        with probability proportional to weight, for every member at once.
        """
        start, end = self.community_range(community)
        rng = _rng(self.config.seed, _STREAM_SUBJECTS, community)
        logits = np.log(SUBJECT_POPULARITY).copy()
        logits[self.community_focus[community]] += math.log(_FOCUS_BOOST)
        noise = rng.gumbel(size=(end - start, len(SUBJECTS)))
        order = np.argsort(-(logits + noise), axis=1)
        counts = rng.choice(np.arange(1, 6), size=end - start, p=_SUBJECT_COUNT_P)
        return order, counts.astype(np.int64)

    def users_of(self, community: int) -> list[SyntheticUser]:
        start, end = self.community_range(community)
        size = end - start
        rng = _rng(self.config.seed, _STREAM_USERS, community)
        order, counts = self._community_subjects(community)
        home = rng.random(size) < _HOME_TZ_SHARE
        zones = np.where(
            home,
            self.community_timezone[community],
            rng.choice(len(TIMEZONES), size=size, p=_TZ_WEIGHTS),
        )
        first = rng.integers(0, len(_FIRST_NAMES), size)
        last = rng.integers(0, len(_LAST_NAMES), size)
        # Python's Random for the per-user choices below: far faster than numpy per scalar.
        py = random.Random(int(rng.integers(0, 2**63)))
        prefix = self.config.username_prefix
        users = []
        for offset in range(size):
            index = start + offset
            subjects = tuple(SUBJECTS[s] for s in order[offset, : counts[offset]])
            first_name, last_name = _FIRST_NAMES[first[offset]], _LAST_NAMES[last[offset]]
            display = (
                f"{first_name} {last_name}"
                if py.random() < 0.8
                else f"{first_name} {last_name[0]}."
            )
            users.append(
                SyntheticUser(
                    index=index,
                    id=int(self.user_ids[index]),
                    community=community,
                    username=f"{prefix}{index}",
                    display_name=display,
                    timezone=_TZ_NAMES[zones[offset]],
                    subjects=subjects,
                    availability=_availability(py),
                    goals=_goals(py, subjects),
                )
            )
        return users

    def iter_users(self) -> Iterator[list[SyntheticUser]]:
        """Every user, one community at a time, in index (and id) order."""
        for community in range(self.communities):
            yield self.users_of(community)

    # -- rooms -----------------------------------------------------------------------------

    @cached_property
    def rooms(self) -> list[SyntheticRoom]:
        """Rooms owned by users (active users own more), on a subject their owner studies."""
        cfg = self.config
        rng = _rng(cfg.seed, _STREAM_ROOMS)
        if cfg.rooms == 0:
            return []
        weights = np.sqrt(self.target_degree)
        owners, _ = _sample_pairs(rng, np.cumsum(weights), cfg.rooms)
        capacities = rng.choice(len(_ROOM_CAPACITIES), size=cfg.rooms, p=_ROOM_CAPACITY_P)
        private = rng.random(cfg.rooms) < _ROOM_PRIVATE_SHARE
        suffixes = rng.integers(0, len(_ROOM_SUFFIXES), cfg.rooms)
        picks = rng.random(cfg.rooms)

        topics: dict[int, str] = {}
        owner_communities = self.membership[owners]
        for community in np.unique(owner_communities).tolist():
            order, counts = self._community_subjects(community)
            start, _ = self.community_range(community)
            for room in np.flatnonzero(owner_communities == community).tolist():
                member = int(owners[room]) - start
                choice = int(picks[room] * counts[member])
                topics[room] = SUBJECTS[order[member, choice]]

        return [
            SyntheticRoom(
                index=room,
                id=int(self.room_ids[room]),
                owner_index=int(owners[room]),
                owner_id=int(self.user_ids[owners[room]]),
                name=f"{topics[room]} {_ROOM_SUFFIXES[suffixes[room]]}",
                topic=topics[room],
                capacity=_ROOM_CAPACITIES[capacities[room]],
                visibility="private" if private[room] else "public",
            )
            for room in range(cfg.rooms)
        ]


def keys_of(src: Int64Array, dst: Int64Array, n: int) -> Int64Array:
    """Pack index pairs into sortable ``src * n + dst`` keys."""
    return src * n + dst


def _availability(py: random.Random) -> tuple[AvailabilitySlot, ...]:
    persona = py.choices(_PERSONAS, cum_weights=_PERSONA_CUM_WEIGHTS)[0]
    days = [day for day in persona.days if py.random() < persona.day_probability]
    if not days:
        days = [py.choice(persona.days)]
    windows = [(day, persona.start_window, persona.duration) for day in days]
    if persona.weekend_extra:
        windows += [(day, (10 * 60, 16 * 60), (60, 240)) for day in (5, 6) if py.random() < 0.35]
    slots: list[AvailabilitySlot] = []
    for day, (earliest, latest), (shortest, longest) in sorted(windows):
        start = py.randrange(earliest, latest + 1, 15)
        end = min(start + py.randrange(shortest, longest + 1, 15), _LAST_MINUTE)
        slots.append({"day": day, "start": _minutes(start), "end": _minutes(end)})
    return tuple(slots)


def _goals(py: random.Random, subjects: tuple[str, ...]) -> str:
    sentences = py.sample(_GOAL_TEMPLATES, py.choice((1, 1, 2)))
    return " ".join(
        template.format(
            subject=py.choice(subjects),
            grade=py.choice(_GRADES),
            hours=py.randrange(3, 21),
            month=py.choice(_MONTHS),
        )
        for template in sentences
    )
