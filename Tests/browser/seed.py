"""Fills a service's SQLite database with many orders by cloning orders the service itself made.

The console benchmark and the screenshots need history (a day of orders, some dead deliveries).
Writing rows by hand would copy the schema into Python; instead, dispatch one order for real
(delivered) and one whose deliveries died, then clone those rows — every column as the service
wrote it — with new ids, references, outlets and times. Used by scripts/console-bench and the suite.
"""
from __future__ import annotations

import random
import sqlite3
import uuid


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _rows(db: sqlite3.Connection, table: str, where: str, args) -> list[dict]:
    cursor = db.execute(f"SELECT * FROM {table} WHERE {where}", args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


class Template:
    """One order with everything that hangs off it, as the service stored it."""

    def __init__(self, db: sqlite3.Connection, order_id: str):
        self.order = _rows(db, "orders", "id = ?", (order_id,))[0]
        self.history = _rows(db, "order_status_history", "order_id = ?", (order_id,)) if _has(db, "order_status_history") else []
        self.deliveries = _rows(db, "deliveries", "subject_type = 'order' AND subject_id = ?", (order_id,))
        event_ids = sorted({d["event_id"] for d in self.deliveries})
        self.events = [e for i in event_ids for e in _rows(db, "events", "id = ?", (i,))]
        self.attempts = {d["id"]: _rows(db, "delivery_attempts", "delivery_id = ?", (d["id"],)) for d in self.deliveries}


def _has(db, table) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _insert(db, table: str, columns: list[str], rows: list[dict]):
    if not rows:
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    db.executemany(sql, [[row.get(c) for c in columns] for row in rows])


def _shift(value, delta):
    return None if value is None else value + delta


def clone_orders(database: str, delivered_by_outlet: dict[str, str], dead_order_id: str | None, count: int, now_ms: int,
                 hours: float = 24.0, dead_share: float = 0.02, ref_prefix: str = "HIST",
                 seed: int = 7, batch: int = 5000) -> dict:
    """Inserts `count` orders received over the last `hours` (more in the day, fewer at night), spread
    over the outlets of `delivered_by_outlet` (outlet id → a delivered order of that outlet to clone);
    `dead_share` of them with dead deliveries, cloned from `dead_order_id` (its outlet). Returns a
    few of the made values (refs, ids) for the benchmark to look up."""
    rng = random.Random(seed)
    db = sqlite3.connect(database, timeout=60)
    db.execute("PRAGMA busy_timeout = 60000")
    delivered = {outlet: Template(db, order_id) for outlet, order_id in delivered_by_outlet.items()}
    outlets = list(delivered)
    dead = Template(db, dead_order_id) if dead_order_id else None
    columns = {t: _columns(db, t) for t in ("orders", "events", "deliveries", "delivery_attempts", "order_status_history") if _has(db, t)}
    span = int(hours * 3_600_000)
    made = {"refs": [], "ids": [], "dead_ids": []}
    statuses = ["PAID", "ACCEPTED", "IN_PROGRESS", "READY", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "CANCELLED"]
    pending = {t: [] for t in columns}

    def flush():
        for table, rows in pending.items():
            _insert(db, table, columns[table], rows)
            rows.clear()
        db.commit()

    for n in range(count):
        # Busier in the "day": reject some night-time draws.
        while True:
            offset = rng.randrange(60_000, span)
            hour = ((now_ms - offset) // 3_600_000) % 24
            if 6 <= hour <= 22 or rng.random() < 0.3:
                break
        received = now_ms - offset
        kind = "dead" if dead and rng.random() < dead_share else "delivered"
        outlet = outlets[n % len(outlets)] if rng.random() < 0.7 else rng.choice(outlets)
        template = dead if kind == "dead" else delivered[outlet]
        outlet = template.order["outlet_id"]
        order_id = str(uuid.uuid4())
        ref = f"{ref_prefix}-{n + 1:06d}"
        order_uuid = f"hist-{uuid.uuid4().hex[:16]}"
        delta = received - template.order["received_at"]
        order = dict(template.order)
        payload = order["payload"]
        if isinstance(payload, (bytes, bytearray)):
            payload = bytes(payload).replace(template.order["order_ref_no"].encode(), ref.encode()) \
                .replace(template.order["order_uuid"].encode(), order_uuid.encode())
        order.update(id=order_id, outlet_id=outlet, order_uuid=order_uuid, order_ref_no=ref, payload=payload,
                     received_at=received, updated_at=_shift(order["updated_at"], delta),
                     total_pay_minor=rng.choice([2500, 4200, 8500, 12000, 3650, 9900]))
        if "status" in order and kind == "delivered":
            order["status"] = rng.choice(statuses)
        for key in ("status_changed_at", "dispatched_at"):
            if key in order:
                order[key] = _shift(order[key], delta)
        pending["orders"].append(order)
        for row in template.history:
            h = dict(row)
            h.pop("id", None)
            h.update(order_id=order_id, occurred_at=_shift(h.get("occurred_at"), delta), recorded_at=_shift(h["recorded_at"], delta))
            pending["order_status_history"].append(h)
        event_map = {}
        for event in template.events:
            e = dict(event)
            new_id = order_id if e["id"] == template.order["id"] else str(uuid.uuid4())
            event_map[e["id"]] = new_id
            e.update(id=new_id, subject_id=order_id, outlet_id=outlet, payload=payload if e.get("subject_type") == "order" else e["payload"],
                     created_at=_shift(e["created_at"], delta))
            pending["events"].append(e)
        for delivery in template.deliveries:
            d = dict(delivery)
            new_id = str(uuid.uuid4())
            d.update(id=new_id, event_id=event_map.get(d["event_id"], d["event_id"]), subject_id=order_id,
                     created_at=_shift(d["created_at"], delta), updated_at=_shift(d["updated_at"], delta),
                     delivered_at=_shift(d.get("delivered_at"), delta), next_attempt_at=_shift(d.get("next_attempt_at"), delta),
                     lease_owner=None, lease_expires_at=None)
            pending["deliveries"].append(d)
            if kind == "dead":
                made["dead_ids"].append(new_id)
            for attempt in template.attempts[delivery["id"]]:
                a = dict(attempt)
                a.pop("id", None)
                a.update(delivery_id=new_id, started_at=_shift(a["started_at"], delta))
                pending["delivery_attempts"].append(a)
        if n % 997 == 0:
            made["refs"].append(ref)
            made["ids"].append(order_id)
        if len(pending["orders"]) >= batch:
            flush()
    flush()
    db.execute("PRAGMA optimize")
    db.close()
    return made
