"""Generate the bundled tabular sample `data/sample/tabular/` (deterministic: same seed and Faker, same bytes).

Run `python data/sample/make_tabular_sample.py` (Faker 40.63.0, pinned in the dev extra) to rebuild it. The
sample is bank customers for a churn model: direct identifiers (name, e-mail, phone, national id),
quasi-identifiers (birth date, zip code, gender), numeric and categorical features and a binary label.

- `customers-initial.csv`: the first full extract, every row an `insert` with its sequence number, some
  rows invalid on purpose (one planted problem each, counted in MANIFEST.json);
- `changes-001.jsonl`, `changes-002.jsonl`: change data (insert / update / delete, increasing sequence);
- `changes-003.jsonl`: a late file: updates older than ones already applied (they must lose), updates of
  customers deleted meanwhile that are older than the delete (the customer stays deleted), and changes
  delivered twice (applying them again changes nothing).

MANIFEST.json holds what was planted and the expected current state, for tests to reconcile against.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

OUT = Path(__file__).resolve().parent / "tabular"
SEED = 20261202
CUSTOMERS = 480
AS_OF = date(2026, 1, 1)
BIRTHS_DRAWN_ON = date(2026, 12, 2)  # the day the committed sample was made
COLUMNS = [
    "customer_id",
    "op",
    "seq",
    "full_name",
    "email",
    "phone",
    "national_id",
    "birth_date",
    "zip",
    "gender",
    "segment",
    "region",
    "channel",
    "income",
    "balance",
    "tenure_months",
    "num_products",
    "opened_on",
    "closed_on",
    "churned",
]
SEGMENTS = {"retail": 0.7, "premium": 0.2, "business": 0.1}
REGIONS = ["north", "south", "east", "west"]
CHANNELS = ["branch", "online", "phone"]
GENDERS = {"f": 0.49, "m": 0.49, "x": 0.02}  # a small group the fairness report must flag
INVALID = {  # planted problem -> rows of the initial extract that have it
    "missing_customer_id": 2,
    "bad_email": 3,
    "negative_income": 2,
    "under_18": 2,
    "unknown_segment": 2,
    "closed_before_opened": 2,
}


def main(out: Path = OUT) -> None:
    rng = random.Random(SEED)
    Faker.seed(SEED)
    fake = Faker("en_US")
    customers = [_customer(fake, rng, index) for index in range(1, CUSTOMERS + 1)]
    initial = [{**row, "op": "insert", "seq": seq} for seq, row in enumerate(customers, start=1)]
    planted = _plant_invalid(initial, rng)

    current = {row["customer_id"]: row for row in initial if row["customer_id"]}  # each customer's latest row
    changes: list[list[dict]] = [[], []]
    live = list(current)
    next_id = CUSTOMERS + 1
    for batch, (updates, deletes, inserts) in enumerate([(60, 10, 20), (40, 5, 10)]):
        seq = 1000 * (batch + 1)
        for customer_id in rng.sample(live, updates):
            seq += 1
            current[customer_id] = _update(current[customer_id], seq, rng)
            changes[batch].append(current[customer_id])
        for customer_id in rng.sample(live, deletes):
            seq += 1
            changes[batch].append({"customer_id": customer_id, "op": "delete", "seq": seq})
            live.remove(customer_id)
        for _ in range(inserts):
            seq += 1
            row = _customer(fake, rng, next_id)
            next_id += 1
            current[row["customer_id"]] = {**row, "op": "insert", "seq": seq}
            changes[batch].append(current[row["customer_id"]])
            live.append(row["customer_id"])

    late = _late_changes(changes, current, rng)
    state = _current_state([*initial, *changes[0], *changes[1], *late])
    late_kinds = [row.pop("_late") for row in late]

    out.mkdir(parents=True, exist_ok=True)
    (out / "customers-initial.csv").write_text(_csv(initial), encoding="utf-8")
    for number, rows in enumerate([*changes, late], start=1):
        lines = "".join(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n" for row in rows)
        (out / f"changes-{number:03d}.jsonl").write_text(lines, encoding="utf-8")
    manifest = {
        "seed": SEED,
        "faker": "40.63.0",
        "as_of": AS_OF.isoformat(),
        "files": sorted(p.name for p in out.glob("*.csv")) + sorted(p.name for p in out.glob("*.jsonl")),
        "rows": {
            "customers-initial.csv": len(initial),
            **{f"changes-{n:03d}.jsonl": len(rows) for n, rows in enumerate([*changes, late], start=1)},
        },
        "planted": {
            **{f"invalid:{kind}": count for kind, count in planted.items()},
            **{f"late:{kind}": late_kinds.count(kind) for kind in ("older_update", "update_after_delete", "duplicate")},
        },
        "expected": {
            "current_customers": len(state),  # keys whose newest change is not a delete (invalid rows included)
            "deleted_customers": sum(1 for batch in changes for r in batch if r["op"] == "delete"),
        },
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {out}: {len(initial)} initial rows, {sum(map(len, changes)) + len(late)} changes")


def _birth_date(fake: Faker) -> date:
    """An age of 19 to 85 on BIRTHS_DRAWN_ON, drawn as Faker's `date_of_birth` draws it. That method counts
    ages from the day it runs, so the sample would change with the date; this fixes the day."""
    start = BIRTHS_DRAWN_ON.replace(year=BIRTHS_DRAWN_ON.year - 86)
    end = BIRTHS_DRAWN_ON.replace(year=BIRTHS_DRAWN_ON.year - 19)
    born = fake.date_time_ad(start_datetime=start, end_datetime=end).date()
    return born if born != start else born + timedelta(days=1)


def _customer(fake: Faker, rng: random.Random, index: int) -> dict:
    gender = rng.choices(list(GENDERS), weights=list(GENDERS.values()))[0]
    first = (
        fake.first_name_female() if gender == "f" else fake.first_name_male() if gender == "m" else fake.first_name()
    )
    last = fake.last_name()
    birth = _birth_date(fake)
    segment = rng.choices(list(SEGMENTS), weights=list(SEGMENTS.values()))[0]
    opened = fake.date_between(start_date=date(2005, 1, 1), end_date=date(2025, 6, 30))
    tenure = (AS_OF.year - opened.year) * 12 + AS_OF.month - opened.month
    income = round(rng.lognormvariate(10.8 if segment == "retail" else 11.6, 0.45), 2)
    products = rng.choices([1, 2, 3, 4], weights=[50, 35, 12, 3])[0]
    # The label depends on tenure, products and segment, and (a planted bias to show) a little on gender.
    risk = 0.32 - min(tenure, 240) / 1200 - 0.05 * (products - 1) + (0.06 if segment == "retail" else -0.04)
    risk += {"f": 0.0, "m": 0.05, "x": 0.02}[gender]
    churned = int(rng.random() < max(0.03, risk))
    closed = opened + timedelta(days=rng.randint(200, 3000)) if churned and rng.random() < 0.5 else None
    return {
        "customer_id": f"C{index:06d}",
        "full_name": f"{first} {last}",
        "email": f"{first}.{last}{rng.randint(1, 99)}@{fake.safe_domain_name()}".lower(),
        "phone": fake.numerify("+1-###-###-####"),
        "national_id": fake.ssn(),
        "birth_date": birth.isoformat(),
        "zip": fake.zipcode(),
        "gender": gender,
        "segment": segment,
        "region": rng.choice(REGIONS),
        "channel": rng.choices(CHANNELS, weights=[30, 55, 15])[0],
        "income": income,
        "balance": round(rng.uniform(0, 4 * income), 2),
        "tenure_months": tenure,
        "num_products": products,
        "opened_on": opened.isoformat(),
        "closed_on": closed.isoformat() if closed and closed < AS_OF else None,
        "churned": churned,
    }


def _plant_invalid(rows: list[dict], rng: random.Random) -> dict[str, int]:
    """Give distinct rows one problem each; return the count per problem."""
    victims = iter(rng.sample(range(len(rows)), sum(INVALID.values())))
    for kind, count in INVALID.items():
        for _ in range(count):
            row = rows[next(victims)]
            if kind == "missing_customer_id":
                row["customer_id"] = None
            elif kind == "bad_email":
                row["email"] = row["email"].replace("@", " at ")
            elif kind == "negative_income":
                row["income"] = -abs(row["income"])
            elif kind == "under_18":
                row["birth_date"] = date(AS_OF.year - 15, 6, 1).isoformat()
            elif kind == "unknown_segment":
                row["segment"] = "platinum"
            else:
                row["closed_on"] = (date.fromisoformat(row["opened_on"]) - timedelta(days=30)).isoformat()
    return dict(INVALID)


def _update(row: dict, seq: int, rng: random.Random) -> dict:
    """An update as CDC feeds deliver it: the customer's whole new row (an after-image), so the newest
    sequence per key is the current state whatever order the changes arrive in."""
    change = {**row, "op": "update", "seq": seq, "balance": round(rng.uniform(0, 90000), 2)}
    if rng.random() < 0.3:
        change["num_products"] = rng.choice([1, 2, 3, 4])
    if rng.random() < 0.15:
        change["churned"] = 1
    return change


def _late_changes(changes: list[list[dict]], current: dict[str, dict], rng: random.Random) -> list[dict]:
    """Older updates for keys changed again later, older updates for keys deleted later, and duplicates."""
    updated_twice = sorted(
        {r["customer_id"] for r in changes[0] if r["op"] == "update"}
        & {r["customer_id"] for r in changes[1] if r["op"] == "update"}
    )
    deleted_later = sorted(r["customer_id"] for r in changes[1] if r["op"] == "delete")
    late = []
    for customer_id in updated_twice[:6]:  # older than the update in changes-002: must lose
        newer = next(r["seq"] for r in changes[1] if r["customer_id"] == customer_id)
        late.append({**_update(current[customer_id], newer - 500, rng), "_late": "older_update"})
    for customer_id in deleted_later[:3]:  # older than the delete: the customer stays deleted
        deleted_at = next(r["seq"] for r in changes[1] if r["customer_id"] == customer_id)
        late.append({**_update(current[customer_id], deleted_at - 1, rng), "_late": "update_after_delete"})
    for row in rng.sample(changes[0], 5):  # delivered twice
        late.append({**row, "_late": "duplicate"})
    rng.shuffle(late)
    return late


def _current_state(rows: list[dict]) -> dict[str, dict]:
    """Apply every change by sequence per key (what silver must hold): the newest wins, deletes remove."""
    state: dict[str, dict] = {}
    newest: dict[str, int] = {}
    for row in sorted((r for r in rows if r.get("customer_id")), key=lambda r: r["seq"]):
        key = row["customer_id"]
        if row["seq"] <= newest.get(key, -1):
            continue
        newest[key] = row["seq"]
        if row["op"] == "delete":
            state.pop(key, None)
        else:
            state[key] = row
    return state


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    return out.getvalue()


if __name__ == "__main__":
    main()
