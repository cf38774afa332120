"""Damaged saved models are refused with a ValueError: never a panic, never
a model with corrupted contents.

Every fitted model saves itself in the core's envelope (src/persist.rs)::

    magic (8) | version u16 | kind length u8 | kind | payload size u64 | CRC-32 u32 | payload

and pickles and ``save`` files go through it.  Two families of damage are
tried on every kind of model:

* the bytes as stored (bit flips, truncation, trailing bytes, overwritten
  runs, another kind's bytes): the envelope's checks must refuse each one;
* the payload only, with the size and checksum recomputed so the envelope is
  intact: whatever decodes must pass the model's validation and then work
  (its errors being ValueError or TypeError), or be refused.

Each model is fitted once, on tiny data; the mutations are seeded, so a
failure names a mutation that reproduces.  Hand-made payloads (a minimal
postcard writer) then aim at invariants random damage rarely reaches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import os
import pickle
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from patronage import _core, anomaly, clv, datasets, recommend

N_ENVELOPE = 1000
N_PAYLOAD = 1000
# Pickles and files put the Python layer around the same checks: fewer.
N_PICKLE = 100
N_FILES = 40

MAGIC = b"\x89PTRNG\r\n"


# -- the envelope, written independently of the core ---------------------------
@dataclass(frozen=True)
class Envelope:
    version: int
    kind: str
    payload: bytes

    @staticmethod
    def parse(blob: bytes) -> Envelope:
        assert blob[:8] == MAGIC
        (version,) = struct.unpack_from("<H", blob, 8)
        kind_end = 11 + blob[10]
        (size,) = struct.unpack_from("<Q", blob, kind_end)
        payload = blob[kind_end + 12 :]
        assert size == len(payload)
        return Envelope(version, blob[11:kind_end].decode(), payload)

    def seal(self) -> bytes:
        kind = self.kind.encode()
        head = MAGIC + struct.pack("<HB", self.version, len(kind)) + kind + struct.pack("<Q", len(self.payload))
        crc = zlib.crc32(self.payload, zlib.crc32(head))
        return b"".join([head, struct.pack("<I", crc), self.payload])


def header_length(blob: bytes) -> int:
    return 8 + 2 + 1 + blob[10] + 8 + 4


def sealed(kind: str, payload: bytes) -> bytes:
    return Envelope(_core.FORMAT_VERSION, kind, payload).seal()


# -- the models ----------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    cdnow: pd.DataFrame
    cdnow_covariates: pd.DataFrame
    spend: pd.DataFrame
    donations: pd.DataFrame
    log: pd.DataFrame
    new_log: pd.DataFrame
    X: np.ndarray


def _data() -> Data:
    spend = datasets.load_cdnow_summary(with_monetary_value=True)
    log, _ = datasets.simulate_transactions(300, seed=1)
    # Transactions after the log, half of them by new customers.
    new_log = log.iloc[-20:].assign(
        timestamp=log["timestamp"].max() + pd.to_timedelta(np.arange(1, 21), unit="min"),
        customer_id=lambda d: d["customer_id"] + np.arange(len(d)) % 2 * 10_000,
    )
    return Data(
        cdnow=datasets.load_cdnow_summary().iloc[:300],
        cdnow_covariates=datasets.load_cdnow_summary()
        .iloc[:300]
        .assign(cohort=np.tile(["early", "mid", "late"], 100), score=np.linspace(-1, 1, 300)),
        spend=spend[spend["frequency"] > 0].iloc[:300],
        donations=datasets.load_donations(),
        log=log,
        new_log=new_log,
        X=np.random.default_rng(0).normal(size=(100, 3)),
    )


DATA = _data()
INTERACTIONS = recommend.Interactions(DATA.log, user_col="customer_id", item_col="item_id")


# Customers as arrays, not frames: converting frames is the Python layer's
# work and would cost more than the model's.
def _columns(frame: pd.DataFrame, *names: str) -> list[np.ndarray]:
    return [frame[name].to_numpy()[:5] for name in names]


def use_purchase_model(m: Any) -> None:
    rows = _columns(DATA.cdnow, "frequency", "recency", "T")
    m.predict(10, *rows)
    m.conditional_probability_alive(*rows)
    m.conditional_probability_of_n_purchases_up_to_time(1, 10, *rows)
    m.expected_number_of_purchases_up_to_time([1.0, 10.0])
    m.probability_of_n_purchases_up_to_time(10.0, 2)
    m.log_likelihood(*rows)
    m.summary()


def use_purchase_model_with_covariates(m: Any) -> None:
    table = DATA.cdnow_covariates.iloc[:5]
    m.predict(10, table)
    m.conditional_probability_alive(table)
    m.coefficients_, m.likelihood_ratio_test_, m.covariates_
    m.summary()


def use_bgbb(m: Any) -> None:
    rows = _columns(DATA.donations, "frequency", "recency", "periods")
    m.conditional_expected_number_of_purchases_up_to_time(5, *rows)
    m.conditional_probability_alive(5, *rows)
    m.expected_number_of_purchases_up_to_time([1, 5])
    m.summary()


def use_sbg(m: Any) -> None:
    m.survival_function([1, 2, 12])
    m.retention_rate([1, 2, 12])
    m.summary()


def use_gamma_gamma(m: Any) -> None:
    frequency, monetary_value, recency, T = _columns(DATA.spend, "frequency", "monetary_value", "recency", "T")
    m.conditional_expected_average_profit(frequency, monetary_value)
    m.customer_lifetime_value(FITTED["BetaGeo"], frequency, recency, T, monetary_value, freq="W")
    m.n_excluded_
    m.summary()


def use_recommender(m: Any) -> None:
    users, items = m.user_ids_[:3], m.item_ids_[:3]
    m.recommend(users, n=5)
    m.recommend([users[0], -1], n=3, unknown_users="popular", items=m.item_ids_[:50])
    m.recommend_new(DATA.log.iloc[:30].assign(customer_id=-1), n=3)
    m.similar_items(items, n=3)
    m.similar_users(users, n=3)
    m.popularity_
    for attribute in ("user_factors_", "item_factors_", "similarity_", "weights_"):
        if hasattr(type(m), attribute):
            getattr(m, attribute)


def use_repeat_aware(m: Any) -> None:
    users, items = m.user_ids_[:3], m.item_ids_[:3]
    for mode in ("replenish", "discover", "mix"):
        m.recommend(users, n=5, mode=mode, reasons=True)
    m.recommend([users[0], -1], n=3, unknown_users="popular", items=m.item_ids_[:50])
    m.similar_items(items, n=3)
    m.similar_users(users, n=3)
    m.popularity_, m.history_(), m.neighbours_()


def use_interactions(data: Any) -> None:
    data.shape, data.nnz, data.user_ids, data.item_ids, data.to_scipy(), repr(data)
    recommend.ItemKNN(k=5).fit(data).recommend(data.user_ids[:2], n=3)


def use_detector(m: Any) -> None:
    rows = DATA.X[:5]
    m.score_samples(rows)
    m.decision_function(rows)
    m.predict(rows)
    if hasattr(m, "labels_"):
        m.decision_scores_, m.labels_, m.threshold_


def use_risk_scorer(m: Any) -> None:
    m.score(DATA.log.iloc[:50], features=True)
    m.threshold_, m.n_customers_
    m.score_new(DATA.new_log)  # changes m: only ever called on loaded copies


@dataclass(frozen=True)
class Kind:
    """A kind of saved model: how to fit one, and how to use a loaded one
    (which may raise ValueError or TypeError, nothing else)."""

    name: str
    fit: Callable[[], Any]
    use: Callable[[Any], None]


KINDS = {
    kind.name: kind
    for kind in [
        Kind("BetaGeo", lambda: clv.BetaGeo().fit(DATA.cdnow), use_purchase_model),
        Kind("ModifiedBetaGeo", lambda: clv.ModifiedBetaGeo().fit(DATA.cdnow), use_purchase_model),
        Kind("ParetoNBD", lambda: clv.ParetoNBD().fit(DATA.cdnow), use_purchase_model),
        Kind(
            "BetaGeoCovariates",
            lambda: clv.BetaGeo().fit(DATA.cdnow_covariates, covariates={"alpha": ["cohort", "score"], "a": ["cohort"]}),
            use_purchase_model_with_covariates,
        ),
        Kind("BetaGeoBetaBinom", lambda: clv.BetaGeoBetaBinom().fit(DATA.donations, weights="weights"), use_bgbb),
        Kind("ShiftedBetaGeo", lambda: clv.ShiftedBetaGeo().fit_cohort([1000, 631, 468, 382, 326, 289]), use_sbg),
        Kind("GammaGamma", lambda: clv.GammaGamma().fit(DATA.spend), use_gamma_gamma),
        Kind("Popularity", lambda: recommend.Popularity().fit(INTERACTIONS), use_recommender),
        Kind("ItemKNN", lambda: recommend.ItemKNN(k=10).fit(INTERACTIONS), use_recommender),
        Kind("RP3Beta", lambda: recommend.RP3Beta(k=10).fit(INTERACTIONS), use_recommender),
        Kind("ALS", lambda: recommend.ALS(factors=4, iterations=2, random_state=0).fit(INTERACTIONS), use_recommender),
        Kind("BPR", lambda: recommend.BPR(factors=4, iterations=2, random_state=0).fit(INTERACTIONS), use_recommender),
        Kind("EASE", lambda: recommend.EASE().fit(INTERACTIONS), use_recommender),
        Kind("RepeatAware", lambda: recommend.RepeatAware(k=10).fit(DATA.log), use_repeat_aware),
        Kind("Interactions", lambda: INTERACTIONS, use_interactions),
        Kind("IsolationForest", lambda: anomaly.IsolationForest(n_estimators=5, random_state=0).fit(DATA.X), use_detector),
        Kind("HBOS", lambda: anomaly.HBOS(n_bins=5).fit(DATA.X), use_detector),
        Kind("ECOD", lambda: anomaly.ECOD().fit(DATA.X), use_detector),
        Kind("TransactionRiskScorer", lambda: anomaly.TransactionRiskScorer().fit(DATA.log), use_risk_scorer),
    ]
}
FITTED: dict[str, Any] = {name: kind.fit() for name, kind in KINDS.items()}
ESTIMATORS = [name for name in KINDS if name != "Interactions"]


# Estimators keep their native model in ``_model``, Interactions in ``_native``.
def _native_attribute(obj: Any) -> str:
    return "_native" if isinstance(obj, recommend.Interactions) else "_model"


def native_type(obj: Any) -> Any:
    return type(getattr(obj, _native_attribute(obj)))


def model_bytes(obj: Any) -> bytes:
    return bytes(getattr(obj, _native_attribute(obj)).to_bytes())


class _SavedAs:
    """Stands in for a native model whose ``to_bytes`` gives ``blob``, so
    that pickle and ``save`` write those bytes as they would a model's."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def to_bytes(self) -> bytes:
        return self.blob


def holding(obj: Any, blob: bytes) -> Any:
    """A shallow copy of ``obj`` whose native model saves as ``blob``."""
    # Not copy.copy: that would save and load the real model on the way.
    clone = object.__new__(type(obj))
    clone.__dict__.update(obj.__dict__)
    setattr(clone, _native_attribute(clone), _SavedAs(blob))
    return clone


def from_state(obj: Any, blob: bytes) -> Any:
    """``obj`` as pickle.loads rebuilds it with model bytes ``blob``."""
    loaded = object.__new__(type(obj))
    loaded.__setstate__(holding(obj, blob).__getstate__())
    return loaded


def _call(f: Callable[[], Any]) -> BaseException | None:
    """What ``f`` raised, if anything (a PanicException is a BaseException)."""
    try:
        f()
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        return e
    return None


def _describe(error: BaseException | None) -> str:
    return "accepted" if error is None else f"{type(error).__name__}: {error}"


# -- mutations -----------------------------------------------------------------
Mutation = tuple[str, bytes]  # what was done, and the result


def _position(rng: random.Random, blob: bytes, head: int) -> int:
    # Half the positions in the header: uniform ones would rarely hit it in a
    # model of megabytes.
    if head and rng.random() < 0.5:
        return rng.randrange(head)
    return rng.randrange(len(blob))


def damage(rng: random.Random, blob: bytes, head: int = 0) -> Mutation:
    """One random change of ``blob``, never a no-op; ``head`` is the length of
    a header to aim at half the time."""
    b = bytearray(blob)
    how = rng.choice(["flip", "set", "truncate", "append", "overwrite", "insert", "delete"])
    at = _position(rng, blob, head)
    if how == "flip":
        spots = sorted({(_position(rng, blob, head), rng.randrange(8)) for _ in range(rng.randint(1, 8))})
        for i, bit in spots:
            b[i] ^= 1 << bit
        what = f"flip bits {spots}"
    elif how == "set":
        b[at] = rng.choice([v for v in range(256) if v != blob[at]])
        what = f"byte {at} := {b[at]}"
    elif how == "truncate":
        del b[at:]
        what = f"truncate at {at}"
    elif how == "append":
        tail = rng.randbytes(rng.randint(1, 16))
        b += tail
        what = f"append {tail.hex()}"
    elif how == "overwrite":
        run = rng.randbytes(rng.randint(2, 64))[: len(blob) - at]
        b[at : at + len(run)] = run
        what = f"overwrite at {at} with {run.hex()}"
    elif how == "insert":
        run = rng.randbytes(rng.randint(1, 8))
        b[at:at] = run
        what = f"insert {run.hex()} at {at}"
    else:
        n = rng.randint(1, 8)
        del b[at : at + n]
        what = f"delete {n} at {at}"
    if b == blob:
        return damage(rng, blob, head)
    return what, bytes(b)


# Values that break invariants where they land on a number: special floats
# (f64 and f32), and varints of huge lengths and counts.
_SPECIAL = [
    *(struct.pack("<d", v) for v in (float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e308, 5e-324)),
    *(struct.pack("<f", v) for v in (float("nan"), float("inf"), 0.0, -1.0, 3e38)),
    b"\x00",
    b"\x7f",
    b"\xff\xff\xff\xff\x0f",  # u32::MAX
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # u64::MAX
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # 2^63
]


def damage_payload(rng: random.Random, payload: bytes) -> Mutation:
    """One random change of a payload, aimed near its start or its end half
    the time (where lengths, counts and small fields are)."""
    b = bytearray(payload)
    aim = rng.random()
    near = min(int(len(payload) ** rng.random()) - 1, len(payload) - 1)
    at = near if aim < 0.25 else len(payload) - 1 - near if aim < 0.5 else rng.randrange(len(payload))
    how = rng.choice(["write", "replace", "copy", "other"])
    if how == "write":
        value = rng.choice(_SPECIAL)
        b[at : at + len(value)] = value
        what = f"write {value.hex()} at {at}"
    elif how == "replace":
        value = rng.choice(_SPECIAL)
        b[at : at + 1] = value
        what = f"replace byte {at} with {value.hex()}"
    elif how == "copy":
        start = rng.randrange(len(payload))
        run = payload[start : start + rng.randint(1, 32)]
        b[at : at + len(run)] = run
        what = f"copy {len(run)} bytes from {start} to {at}"
    else:
        return damage(rng, payload)
    if b == payload:
        return damage(rng, payload)
    return what, bytes(b)


def envelope_mutations(name: str, n: int) -> Iterator[Mutation]:
    """``n`` damaged copies of the model's bytes; then this payload labelled
    as every other kind, and the whole bytes of every kind of model its
    native class does not read."""
    blob = model_bytes(FITTED[name])
    rng = random.Random(f"envelope {name}")
    for _ in range(n):
        yield damage(rng, blob, header_length(blob))
    own = Envelope.parse(blob)
    for other, obj in FITTED.items():
        if other != name:
            other_blob = model_bytes(obj)
            kind = Envelope.parse(other_blob).kind
            if kind == own.kind:  # BetaGeo with and without covariates
                continue
            yield f"this payload labelled {kind}", dataclasses.replace(own, kind=kind).seal()
            if native_type(obj) is not native_type(FITTED[name]):
                yield f"the bytes of {other}", other_blob


def refusals(load: Callable[[bytes], Any], mutations: Iterator[Mutation]) -> tuple[int, list[str]]:
    """Load every mutation: how many there were, and each one not refused
    with a ValueError."""
    count, wrong = 0, []
    for what, blob in mutations:
        count += 1
        error = _call(lambda: load(blob))
        if not isinstance(error, ValueError):
            wrong.append(f"{what}: {_describe(error)}")
    return count, wrong


def _report(wrong: list[str], count: int) -> str:
    return f"{len(wrong)} of {count}:\n" + "\n".join(wrong[:20])


# -- the envelope: damaged bytes are refused -------------------------------------
def test_every_kind_of_saved_model_is_covered() -> None:
    kinds = {Envelope.parse(model_bytes(obj)).kind for obj in FITTED.values()}
    prefixes = ["clv"] * 6 + ["recommend"] * 8 + ["anomaly"] * 4
    names = [name for name in KINDS if name != "BetaGeoCovariates"]  # a BetaGeo, with covariates
    assert kinds == {f"{prefix}.{name}" for prefix, name in zip(prefixes, names)}


def test_the_envelope_written_here_is_the_cores() -> None:
    for obj in FITTED.values():
        blob = model_bytes(obj)
        assert Envelope.parse(blob).seal() == blob
        assert Envelope.parse(blob).version == _core.FORMAT_VERSION


@pytest.mark.parametrize("name", KINDS)
def test_damaged_bytes_are_refused(name: str) -> None:
    count, wrong = refusals(native_type(FITTED[name]).from_bytes, envelope_mutations(name, N_ENVELOPE))
    assert count > N_ENVELOPE
    assert wrong == [], _report(wrong, count)


@pytest.mark.parametrize("name", KINDS)
def test_damaged_pickles_are_refused(name: str) -> None:
    obj = FITTED[name]
    assert model_bytes(pickle.loads(pickle.dumps(obj))) == model_bytes(obj)
    count, wrong = refusals(
        lambda blob: pickle.loads(pickle.dumps(holding(obj, blob))), envelope_mutations(name, N_PICKLE)
    )
    assert wrong == [], _report(wrong, count)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_damaged_files_are_refused(name: str, tmp_path: Path) -> None:
    obj, path = FITTED[name], tmp_path / "model.patronage"
    obj.save(path)
    assert model_bytes(type(obj).load(path)) == model_bytes(obj)
    saved = path.read_bytes()

    def load_file(blob: bytes) -> Any:
        path.write_bytes(blob)
        return type(obj).load(path)

    def load_saved_model(blob: bytes) -> Any:
        holding(obj, blob).save(path)
        return type(obj).load(path)

    rng = random.Random(f"file {name}")
    file_damage = (damage(rng, saved, header_length(saved)) for _ in range(N_FILES))
    for load, mutations in [(load_file, file_damage), (load_saved_model, envelope_mutations(name, N_FILES))]:
        count, wrong = refusals(load, mutations)
        assert wrong == [], _report(wrong, count)


def _message(load: Callable[[], Any]) -> str:
    with pytest.raises(ValueError) as info:
        load()
    return str(info.value)


@pytest.mark.parametrize("name", KINDS)
def test_bytes_of_another_format_version_say_so(name: str, tmp_path: Path) -> None:
    obj = FITTED[name]
    envelope = Envelope.parse(model_bytes(obj))
    newer = dataclasses.replace(envelope, version=envelope.version + 1).seal()
    older = dataclasses.replace(envelope, version=envelope.version - 1).seal()
    assert "newer" in _message(lambda: native_type(obj).from_bytes(newer))
    assert "upgrade" in _message(lambda: native_type(obj).from_bytes(newer))
    assert "older" in _message(lambda: native_type(obj).from_bytes(older))
    assert "newer" in _message(lambda: pickle.loads(pickle.dumps(holding(obj, newer))))
    if name in ESTIMATORS:
        path = tmp_path / "model.patronage"
        obj.save(path)
        saved = Envelope.parse(path.read_bytes())
        path.write_bytes(dataclasses.replace(saved, version=saved.version + 1).seal())
        message = _message(lambda: type(obj).load(path))
        assert "newer" in message and os.fspath(path) in message


def test_a_file_of_another_estimator_says_which(tmp_path: Path) -> None:
    path = tmp_path / "model.patronage"
    FITTED["BetaGeo"].save(path)
    message = _message(lambda: clv.ParetoNBD.load(path))
    assert "holds a patronage.clv._models.BetaGeo, not a patronage.clv._models.ParetoNBD" in message
    assert "holds a patronage.clv._models.BetaGeo" in _message(lambda: anomaly.IsolationForest.load(path))
    # A model's own bytes are not a saved estimator.
    path.write_bytes(model_bytes(FITTED["EASE"]))
    message = _message(lambda: recommend.EASE.load(path))
    assert "recommend.EASE" in message and os.fspath(path) in message


@pytest.mark.parametrize(
    ("reader", "other", "expected"),
    [
        (_core.Recommender, "IsolationForest", "recommend"),
        (_core.IsolationForestModel, "HBOS", "IsolationForest"),
        (_core.TransactionRiskModel, "Interactions", "TransactionRiskScorer"),
    ],
)
def test_bytes_of_another_kind_name_both_kinds(reader: Any, other: str, expected: str) -> None:
    message = _message(lambda: reader.from_bytes(model_bytes(FITTED[other])))
    assert Envelope.parse(model_bytes(FITTED[other])).kind in message
    assert expected in message, message


# BetaGeo, ModifiedBetaGeo and ParetoNBD share a native class (PurchaseModel),
# as the recommenders do (Recommender), which reads any of their bytes; an
# estimator must still not load as another model.
@pytest.mark.parametrize(
    ("name", "other"),
    [("BetaGeo", "ParetoNBD"), ("ParetoNBD", "ModifiedBetaGeo"), ("ALS", "EASE"), ("ItemKNN", "Popularity")],
)
def test_an_estimator_refuses_another_models_bytes_of_its_native_class(name: str, other: str, tmp_path: Path) -> None:
    obj, blob = FITTED[name], model_bytes(FITTED[other])
    path = tmp_path / "model.patronage"
    holding(obj, blob).save(path)
    for load in [lambda: pickle.loads(pickle.dumps(holding(obj, blob))), lambda: type(obj).load(path)]:
        error = _call(load)
        assert isinstance(error, ValueError), _describe(error)


# -- the payload: what decodes is validated, then works ---------------------------
@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    # A damaged model can make a method loop for ages in native code, where
    # nothing interrupts it: dump the stacks and exit rather than hang.
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@dataclass
class Tally:
    tried: int = 0
    refused: int = 0
    accepted: int = 0
    # Accepted models that then raised ValueError or TypeError in use.
    refused_in_use: int = 0


def check_resealed(name: str, envelope: Envelope, load: Callable[[bytes], Any], n: int) -> tuple[Tally, list[str]]:
    """Load ``n`` mutations of ``envelope``'s payload, resealed, and use what
    loads: the tally and every failure (anything but ValueError or
    TypeError, from loading or use)."""
    rng = random.Random(f"payload {name} {envelope.kind}")
    tally, failures = Tally(), []
    with watchdog(120):
        for _ in range(n):
            what, payload = damage_payload(rng, envelope.payload)
            blob = dataclasses.replace(envelope, payload=payload).seal()
            tally.tried += 1
            loaded: list[Any] = []
            error = _call(lambda: loaded.append(load(blob)))
            if isinstance(error, ValueError):
                tally.refused += 1
                continue
            if error is None:
                tally.accepted += 1
                error = _call(lambda: KINDS[name].use(loaded[0]))
                if isinstance(error, (ValueError, TypeError)):
                    tally.refused_in_use += 1
                    continue
            if error is not None:
                failures.append(f"{what}: {_describe(error)}")
    return tally, failures


@pytest.mark.parametrize(
    "name",
    list(KINDS),
)
def test_resealed_payloads_are_refused_or_work(name: str) -> None:
    obj = FITTED[name]
    KINDS[name].use(from_state(obj, model_bytes(obj)))  # the undamaged model works
    tally, failures = check_resealed(name, Envelope.parse(model_bytes(obj)), lambda b: from_state(obj, b), N_PAYLOAD)
    print(f"{name}: {tally}")
    assert tally.tried == tally.refused + tally.accepted == N_PAYLOAD
    assert failures == [], _report(failures, tally.tried)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_resealed_files_are_refused_or_work(name: str, tmp_path: Path) -> None:
    obj, path = FITTED[name], tmp_path / "model.patronage"
    obj.save(path)

    def load_file(blob: bytes) -> Any:
        path.write_bytes(blob)
        return type(obj).load(path)

    tally, failures = check_resealed(name, Envelope.parse(path.read_bytes()), load_file, N_FILES)
    assert failures == [], _report(failures, tally.tried)


# -- hand-made payloads ------------------------------------------------------------
# A minimal postcard writer: unsigned integers as LEB128 varints, signed ones
# zigzagged, sequences and strings with a varint length, enums by variant
# index, f32/f64 little-endian, structs as their fields in order.
def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def zigzag(n: int) -> bytes:
    return varint((n << 1) ^ (n >> 63))


def seq(values: list[Any], item: Callable[[Any], bytes]) -> bytes:
    return varint(len(values)) + b"".join(item(v) for v in values)


def text(s: str) -> bytes:
    return seq(list(s.encode()), lambda b: bytes([b]))


def f32(v: float) -> bytes:
    return struct.pack("<f", v)


def id_map(ids: list[int]) -> bytes:
    return varint(0) + seq(ids, zigzag) + varint(3)  # IdValues::Int, IdType::Int64


def csr(n_rows: int, n_cols: int, indptr: list[int], indices: list[int], data: list[float]) -> bytes:
    return varint(n_rows) + varint(n_cols) + seq(indptr, varint) + seq(indices, varint) + seq(data, f32)


# Two users (1, 2) each with one item (7, 8).
TWO_BY_TWO = csr(2, 2, [0, 1, 2], [0, 1], [1.0, 1.0])


def interactions(
    matrix: bytes = TWO_BY_TWO,
    users: tuple[int, ...] = (1, 2),
    items: tuple[int, ...] = (7, 8),
    columns: tuple[str, str] = ("customer_id", "item_id"),
) -> bytes:
    return id_map(list(users)) + id_map(list(items)) + matrix + text(columns[0]) + text(columns[1])


def als(n_factors: int, user: list[float], item: list[float]) -> bytes:
    weighting = f32(1.0) + f32(0.01) + f32(1.0) + f32(0.0)  # alpha, regularization, alpha_0, nu
    factors = varint(n_factors) + seq(user, f32) + seq(item, f32) + weighting
    return interactions() + seq([1.0, 1.0], f32) + varint(2) + factors  # popularity, Model::Als


def forest_with_depth(depth: int) -> bytes:
    """The fitted IsolationForest's bytes with its last tree's depth set."""
    payload = bytearray(Envelope.parse(model_bytes(FITTED["IsolationForest"])).payload)
    # The payload ends with the last tree's depth, n_features (3), max_samples
    # (100), the offset (f64) and the feature names (none).
    assert (payload[-11], payload[-10], payload[-1]) == (3, 100, 0)
    payload[-12:-11] = varint(depth)
    return sealed("anomaly.IsolationForest", bytes(payload))


def test_hand_made_payloads_are_read_as_intended() -> None:
    data = _core.Interactions.from_bytes(sealed("recommend.Interactions", interactions()))
    assert (data.shape, data.nnz, data.user_col) == ((2, 2), 2, "customer_id")
    model = _core.Recommender.from_bytes(sealed("recommend.ALS", als(2, [0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8])))
    assert model.user_factors().shape == (2, 2)
    assert model.recommend(None, 1, False, None, "error", False).num_rows == 2
    depth = Envelope.parse(model_bytes(FITTED["IsolationForest"])).payload[-12]
    assert forest_with_depth(depth) == model_bytes(FITTED["IsolationForest"])


def test_a_matrix_of_2_to_the_64_rows_is_refused() -> None:
    blob = sealed("recommend.Interactions", interactions(csr(2**64 - 1, 0, [], [], []), users=(), items=()))
    error = _call(lambda: _core.Interactions.from_bytes(blob))
    assert isinstance(error, ValueError), _describe(error)


def test_factor_counts_that_overflow_are_refused() -> None:
    blob = sealed("recommend.ALS", als(2**63, [], []))
    error = _call(lambda: _core.Recommender.from_bytes(blob))
    assert isinstance(error, ValueError), _describe(error)


def test_an_isolation_tree_deeper_than_its_nodes_is_refused() -> None:
    error = _call(lambda: _core.IsolationForestModel.from_bytes(forest_with_depth(2**32 - 1)))
    assert isinstance(error, ValueError), _describe(error)


def test_a_column_name_with_a_nul_byte_is_refused() -> None:
    blob = sealed("recommend.Interactions", interactions(columns=("customer\0id", "item_id")))
    error = _call(lambda: _core.Interactions.from_bytes(blob))
    assert isinstance(error, ValueError), _describe(error)
